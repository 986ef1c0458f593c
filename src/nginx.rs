//! A pure reader of the nginx config statements blotctl depends on (no I/O): the main
//! context's `daemon` (the job's `expect`), and where nginx sends requests on this machine
//! (`server` in `upstream { }` blocks, `proxy_pass http://...`).
//!
//! nginx statements end in `;`, `{` or `}`; `#` starts a comment to the end of the line.

use anyhow::{bail, Result};

/// One statement: its words, the line it starts on (1-based), and the names of the blocks
/// it is in (`["http", "upstream"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    pub line: usize,
    pub words: Vec<&'a str>,
    pub blocks: Vec<&'a str>,
}

/// Every statement of a config, in order (block openers too, with their words).
pub fn statements(text: &str) -> Vec<Statement<'_>> {
    let mut out = Vec::new();
    let mut blocks: Vec<&str> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    let mut first_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let mut rest = raw.split('#').next().unwrap_or("");
        while !rest.is_empty() {
            let cut = rest.find([';', '{', '}']).unwrap_or(rest.len());
            let (chunk, tail) = rest.split_at(cut);
            for w in chunk.split_whitespace() {
                if words.is_empty() {
                    first_line = i + 1;
                }
                words.push(w);
            }
            let Some(delim) = tail.chars().next() else {
                break;
            };
            if !words.is_empty() {
                out.push(Statement {
                    line: first_line,
                    words: words.clone(),
                    blocks: blocks.clone(),
                });
            }
            match delim {
                '{' => blocks.push(words.first().copied().unwrap_or("")),
                '}' => {
                    blocks.pop();
                }
                _ => {}
            }
            words.clear();
            rest = &tail[1..];
        }
    }
    out
}

/// Whether nginx daemonizes (forks once) under this main config: its `daemon` directive
/// (main context only, `on` by default).
pub fn daemon(text: &str) -> Result<bool> {
    let mut daemon = true;
    for s in statements(text) {
        if s.blocks.is_empty() && s.words.first() == Some(&"daemon") {
            daemon = match s.words.get(1).map(|v| v.trim_matches(['"', '\''])) {
                Some("on") => true,
                Some("off") => false,
                other => bail!(
                    "line {}: daemon {} is neither on nor off",
                    s.line,
                    other.unwrap_or("(nothing)")
                ),
            };
        }
    }
    Ok(daemon)
}

/// An address nginx sends requests to: `server ADDR` in an `upstream` block, or the host of
/// `proxy_pass http://ADDR/...` (unless ADDR names an upstream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub line: usize,
    /// As written: `127.0.0.1:8080`, `localhost`, `unix:/run/app.sock`.
    pub addr: String,
}

impl Upstream {
    /// The host and port when the address is on this machine's loopback (`127.0.0.1`,
    /// `localhost`, `[::1]`; port 80 when none is given).
    pub fn loopback_port(&self) -> Option<(&str, u16)> {
        let (host, port) = match self.addr.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !h.ends_with(':') => (h, p.parse().ok()?),
            _ => (self.addr.as_str(), 80),
        };
        matches!(host, "127.0.0.1" | "localhost" | "[::1]").then_some((host, port))
    }
}

/// Every address nginx sends requests to.
pub fn upstreams(text: &str) -> Vec<Upstream> {
    let all = statements(text);
    let names: Vec<&str> = all
        .iter()
        .filter(|s| s.words.first() == Some(&"upstream"))
        .filter_map(|s| s.words.get(1).copied())
        .collect();
    let mut out = Vec::new();
    for s in &all {
        match (s.words.first(), s.words.get(1)) {
            (Some(&"server"), Some(addr)) if s.blocks.last() == Some(&"upstream") => {
                out.push(Upstream {
                    line: s.line,
                    addr: addr.to_string(),
                })
            }
            (Some(&"proxy_pass"), Some(url)) => {
                let Some(rest) = url.strip_prefix("http://") else {
                    continue;
                };
                let host = rest.split('/').next().unwrap_or("");
                if !names.contains(&host) {
                    out.push(Upstream {
                        line: s.line,
                        addr: host.to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The line of the first upstream that names `localhost` (nginx resolves it at start, and
/// fails at boot with `host not found in upstream "localhost"`).
pub fn localhost_upstream(text: &str) -> Option<usize> {
    upstreams(text)
        .into_iter()
        .find(|u| u.loopback_port().is_some_and(|(h, _)| h == "localhost"))
        .map(|u| u.line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_is_read_from_the_main_context_only() {
        assert!(daemon("").unwrap(), "on by default");
        assert!(!daemon("user nginx;\ndaemon off;\n").unwrap());
        assert!(!daemon("daemon\n  \"off\" ; # foreground\n").unwrap());
        assert!(daemon("# daemon off;\nevents {}\n").unwrap());
        assert!(daemon("http { server { daemon off; } }\n").unwrap());
        assert!(daemon("daemon off; daemon on;\n").unwrap());
        let e = daemon("events {\n}\ndaemon maybe;\n").unwrap_err();
        assert_eq!(e.to_string(), "line 3: daemon maybe is neither on nor off");
    }

    #[test]
    fn finds_localhost_upstreams() {
        assert_eq!(
            localhost_upstream("upstream b {\n  server localhost:8080;\n}\n"),
            Some(2)
        );
        assert_eq!(
            localhost_upstream("upstream b {\n  server 127.0.0.1:8080;\n}\nserver {\n}\n"),
            None
        );
        assert_eq!(
            localhost_upstream("location / { proxy_pass http://localhost:8080; }\n"),
            Some(1)
        );
        assert_eq!(
            localhost_upstream("# upstream b { server localhost; }\n"),
            None
        );
    }

    #[test]
    fn loopback_ports_of_upstreams_and_proxy_passes() {
        let conf = "http {\n upstream blot {\n  server 127.0.0.1:8080 weight=2;\n  \
                    server 10.0.0.2:8080;\n }\n server {\n  location / { proxy_pass http://blot; }\n  \
                    location /x { proxy_pass http://[::1]:9000/x; }\n  \
                    location /y { proxy_pass http://localhost/; }\n }\n}\n";
        let found = upstreams(conf);
        let ports: Vec<(usize, Option<(&str, u16)>)> =
            found.iter().map(|u| (u.line, u.loopback_port())).collect();
        assert_eq!(
            ports,
            vec![
                (3, Some(("127.0.0.1", 8080))),
                (4, None),
                (8, Some(("[::1]", 9000))),
                (9, Some(("localhost", 80))),
            ]
        );
        assert!(upstreams("server { listen 80; }\n").is_empty());
    }
}
