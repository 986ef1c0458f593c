//! nginx's configuration language, as far as blotctl reads it. Pure: no I/O.
//!
//! One tokenizer ([`statements`]) serves everything blotctl asks of a config: its `daemon`
//! and `pid` (the job's `expect` and monit's pidfile), its `include`s (copied beside a
//! root-owned copy, or checked in place), the files nginx's master opens as root (which no
//! other user may control), and where it sends requests on this machine ([`upstreams`]:
//! `localhost` fails at boot, and the app's port must be `blot_port`).
//!
//! Statements end in `;`, `{` or `}`; `#` starts a comment outside quotes; a word may be
//! quoted with `"` or `'` (a backslash escapes the next character).

use anyhow::{bail, Result};

/// One word of a statement, unquoted, with where it stands in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Byte range of the word in the source, quotes included.
    pub start: usize,
    pub end: usize,
}

/// One statement: its words, the line it starts on, and the blocks it sits in (the first
/// word of each enclosing block's statement, outermost first: `["http", "server"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stmt {
    pub line: usize,
    pub words: Vec<Word>,
    pub blocks: Vec<String>,
}

impl Stmt {
    pub fn name(&self) -> &str {
        self.words.first().map_or("", |w| w.text.as_str())
    }
    pub fn arg(&self, i: usize) -> Option<&Word> {
        self.words.get(i + 1)
    }
    /// In the main context (no enclosing block).
    pub fn is_main(&self) -> bool {
        self.blocks.is_empty()
    }
}

/// Every statement of a config, in order (block openers included, with their words).
pub fn statements(text: &str) -> Result<Vec<Stmt>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut blocks: Vec<String> = Vec::new();
    let mut words: Vec<Word> = Vec::new();
    let mut line = 1;
    let mut first_line = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b';' | b'{' | b'}' => {
                if c == b'}' && !words.is_empty() {
                    bail!("line {line}: `}}` ends a statement that has no `;`");
                }
                if c != b'}' {
                    if words.is_empty() {
                        bail!("line {line}: unexpected `{}`", c as char);
                    }
                    let name = words[0].text.clone();
                    out.push(Stmt {
                        line: first_line,
                        words: std::mem::take(&mut words),
                        blocks: blocks.clone(),
                    });
                    if c == b'{' {
                        blocks.push(name);
                    }
                } else if blocks.pop().is_none() {
                    bail!("line {line}: unexpected `}}`");
                }
                i += 1;
            }
            _ => {
                let start = i;
                let start_line = line;
                let mut word = String::new();
                if c == b'"' || c == b'\'' {
                    i += 1;
                    loop {
                        if i >= b.len() {
                            bail!("line {start_line}: unterminated quote");
                        }
                        match b[i] {
                            q if q == c => {
                                i += 1;
                                break;
                            }
                            b'\\' if i + 1 < b.len() => {
                                push_char(text, &mut i, 1, &mut word, &mut line);
                            }
                            _ => push_char(text, &mut i, 0, &mut word, &mut line),
                        }
                    }
                } else {
                    while i < b.len() && !b" \t\r\n;{}#\"'".contains(&b[i]) {
                        if b[i] == b'\\' && i + 1 < b.len() {
                            push_char(text, &mut i, 1, &mut word, &mut line);
                        } else {
                            push_char(text, &mut i, 0, &mut word, &mut line);
                        }
                    }
                }
                if words.is_empty() {
                    first_line = start_line;
                }
                words.push(Word {
                    text: word,
                    start,
                    end: i,
                });
            }
        }
    }
    if !words.is_empty() {
        bail!("line {first_line}: the last statement has no `;`");
    }
    if let Some(open) = blocks.last() {
        bail!("the `{open}` block is not closed");
    }
    Ok(out)
}

/// Append the character at `*i + skip` to `word` and move past it.
fn push_char(text: &str, i: &mut usize, skip: usize, word: &mut String, line: &mut usize) {
    *i += skip;
    let ch = text[*i..].chars().next().expect("in bounds");
    if ch == '\n' {
        *line += 1;
    }
    word.push(ch);
    *i += ch.len_utf8();
}

/// The main context's `daemon` (the last one wins); `None` when it does not say.
pub fn daemon(stmts: &[Stmt]) -> Result<Option<bool>> {
    let mut daemon = None;
    for s in stmts.iter().filter(|s| s.is_main() && s.name() == "daemon") {
        daemon = Some(match s.arg(0).map(|w| w.text.as_str()) {
            Some("on") => true,
            Some("off") => false,
            other => bail!(
                "line {}: daemon {} is neither on nor off",
                s.line,
                other.unwrap_or("(nothing)")
            ),
        });
    }
    Ok(daemon)
}

/// The main context's `pid` file: (line, path).
pub fn pid(stmts: &[Stmt]) -> Option<(usize, &str)> {
    stmts
        .iter()
        .rfind(|s| s.is_main() && s.name() == "pid")
        .and_then(|s| s.arg(0).map(|w| (s.line, w.text.as_str())))
}

/// The `include` statements (any context): (line, the path word).
pub fn includes(stmts: &[Stmt]) -> impl Iterator<Item = (usize, &Word)> {
    stmts
        .iter()
        .filter(|s| s.name() == "include")
        .filter_map(|s| s.arg(0).map(|w| (s.line, w)))
}

/// Directives whose files nginx's master process opens, as root, before it drops
/// privileges: certificates and keys it reads, logs and the pid file it creates or appends
/// to, modules it loads. (`include` is handled on its own.)
const ROOT_OPENED: &[&str] = &[
    "ssl_certificate",
    "ssl_certificate_key",
    "ssl_trusted_certificate",
    "ssl_client_certificate",
    "ssl_crl",
    "ssl_dhparam",
    "ssl_password_file",
    "ssl_session_ticket_key",
    "ssl_stapling_file",
    "load_module",
    "error_log",
    "access_log",
    "pid",
    "lock_file",
];

/// The files the master opens as root: (line, directive, path) for every such directive
/// whose argument is a file (not `stderr`, `off`, `syslog:...`, `memory:...`, `data:...`,
/// nor a value with variables, which workers resolve at run time).
pub fn root_opened(stmts: &[Stmt]) -> Vec<(usize, &str, &str)> {
    let mut out = Vec::new();
    for s in stmts {
        if !ROOT_OPENED.contains(&s.name()) {
            continue;
        }
        let Some(arg) = s.arg(0).map(|w| w.text.as_str()) else {
            continue;
        };
        let not_a_file = arg == "stderr"
            || arg == "off"
            || arg.starts_with("syslog:")
            || arg.starts_with("memory:")
            || arg.starts_with("data:")
            || arg.contains('$');
        if !not_a_file {
            out.push((s.line, s.name(), arg));
        }
    }
    out
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

/// Every address nginx sends requests to (none when the text is not a config nginx reads).
pub fn upstreams(text: &str) -> Vec<Upstream> {
    let Ok(all) = statements(text) else {
        return Vec::new();
    };
    let names: Vec<&str> = all
        .iter()
        .filter(|s| s.name() == "upstream")
        .filter_map(|s| s.arg(0).map(|w| w.text.as_str()))
        .collect();
    let mut out = Vec::new();
    for s in &all {
        let Some(arg) = s.arg(0).map(|w| w.text.as_str()) else {
            continue;
        };
        match s.name() {
            "server" if s.blocks.last().is_some_and(|b| b == "upstream") => out.push(Upstream {
                line: s.line,
                addr: arg.to_string(),
            }),
            "proxy_pass" => {
                let Some(rest) = arg.strip_prefix("http://") else {
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

/// Where an http `server` accepts connections: a `listen` (host and port as written, `*`
/// for a bare port), or, for a server with none, nginx's default `*:80`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// The `listen` line, or the `server` block's for the default.
    pub line: usize,
    pub host: String,
    pub port: u16,
}

impl Listen {
    /// Whether a connection to 127.0.0.1 (monit's port test goes to `localhost`, which the
    /// hosts step keeps at 127.0.0.1) reaches it: every IPv4 address, or 127.0.0.1 itself.
    pub fn on_loopback_v4(&self) -> bool {
        matches!(
            self.host.as_str(),
            "*" | "0.0.0.0" | "127.0.0.1" | "localhost"
        )
    }
}

/// The host and port of a `listen` argument (`80`, `127.0.0.1:8080`, `[::]:80`,
/// `localhost`, `*:80`); `None` for a unix socket or what is not an address.
fn listen_addr(arg: &str) -> Option<(String, u16)> {
    if arg.starts_with("unix:") {
        return None;
    }
    if let Some(rest) = arg.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => 80,
        };
        return Some((format!("[{host}]"), port));
    }
    if let Some((host, port)) = arg.rsplit_once(':') {
        return Some((host.to_string(), port.parse().ok()?));
    }
    if arg.bytes().all(|b| b.is_ascii_digit()) {
        return Some(("*".into(), arg.parse().ok()?));
    }
    Some((arg.to_string(), 80))
}

/// Where the http `server`s of one config file listen (a server without `listen` listens
/// on `*:80`). `server` blocks inside `stream` or `mail` are not http and are left out.
pub fn listens(stmts: &[Stmt]) -> Vec<Listen> {
    let mut out = Vec::new();
    // The server block we are in: its depth (blocks of its statements), line, and whether
    // it has said where it listens.
    let mut open: Option<(usize, usize, bool)> = None;
    let close = |open: &mut Option<(usize, usize, bool)>, out: &mut Vec<Listen>| {
        if let Some((_, line, false)) = open.take() {
            out.push(Listen {
                line,
                host: "*".into(),
                port: 80,
            });
        }
    };
    for s in stmts {
        if let Some((depth, ..)) = open {
            if s.blocks.len() < depth || s.blocks[depth - 1] != "server" {
                close(&mut open, &mut out);
            }
        }
        let not_http = s.blocks.iter().any(|b| b == "stream" || b == "mail");
        if s.name() == "server" && s.arg(0).is_none() && !not_http {
            close(&mut open, &mut out);
            open = Some((s.blocks.len() + 1, s.line, false));
        } else if s.name() == "listen" && s.blocks.last().is_some_and(|b| b == "server") {
            if let Some(o) = open.as_mut() {
                o.2 = true;
            }
            if let Some((host, port)) = s.arg(0).and_then(|w| listen_addr(&w.text)) {
                if !not_http {
                    out.push(Listen {
                        line: s.line,
                        host,
                        port,
                    });
                }
            }
        }
    }
    close(&mut open, &mut out);
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

/// `text` with the given words replaced (e.g. an `include` path); the rest byte for byte.
pub fn replace_words(text: &str, edits: &[(&Word, String)]) -> String {
    let mut edits: Vec<&(&Word, String)> = edits.iter().collect();
    edits.sort_by_key(|(w, _)| w.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (w, new) in edits {
        out.push_str(&text[at..w.start]);
        out.push_str(new);
        at = w.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Whether a name matches a shell glob of `*` and `?` (what nginx's `include` expands).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

pub fn has_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &Stmt) -> Vec<&str> {
        s.words.iter().map(|w| w.text.as_str()).collect()
    }

    #[test]
    fn statements_blocks_quotes_and_comments() {
        let t = "user nginx; # who\nhttp {\n  server { listen 80; location = /health { return 200 \"ok;#\"; } }\n}\n";
        let s = statements(t).unwrap();
        assert_eq!(words(&s[0]), ["user", "nginx"]);
        assert_eq!(s[1].name(), "http");
        let ret = s.iter().find(|s| s.name() == "return").unwrap();
        assert_eq!(words(ret), ["return", "200", "ok;#"]);
        assert_eq!(ret.blocks, ["http", "server", "location"]);
        assert_eq!(ret.line, 3);
        assert!(statements("a b").is_err());
        assert!(statements("a {").is_err());
        assert!(statements("}").is_err());
        assert!(statements("a \"b;").is_err());
    }

    #[test]
    fn nginx_daemon_is_read_from_the_main_context_only() {
        let d = |t: &str| daemon(&statements(t).unwrap());
        assert_eq!(
            d("").unwrap(),
            None,
            "nginx's default (on) is not a statement"
        );
        assert_eq!(d("user nginx;\ndaemon off;\n").unwrap(), Some(false));
        assert_eq!(
            d("daemon\n  \"off\" ; # foreground\n").unwrap(),
            Some(false)
        );
        assert_eq!(d("# daemon off;\nevents {}\n").unwrap(), None);
        assert_eq!(d("http { server { daemon off; } }\n").unwrap(), None);
        assert_eq!(d("daemon off; daemon on;\n").unwrap(), Some(true));
        let e = d("events {\n}\ndaemon maybe;\n").unwrap_err();
        assert_eq!(e.to_string(), "line 3: daemon maybe is neither on nor off");
    }

    #[test]
    fn pid_includes_and_what_root_opens() {
        let t = "pid /var/run/nginx.pid;\nerror_log stderr;\ninclude /etc/nginx/mime.types;\n\
                 http { access_log /var/log/a.log main; access_log off; include conf.d/*.conf;\n\
                 server { ssl_certificate /etc/ssl/x.pem; ssl_certificate_key $k; } }\n";
        let s = statements(t).unwrap();
        assert_eq!(pid(&s), Some((1, "/var/run/nginx.pid")));
        let inc: Vec<&str> = includes(&s).map(|(_, w)| w.text.as_str()).collect();
        assert_eq!(inc, ["/etc/nginx/mime.types", "conf.d/*.conf"]);
        assert_eq!(
            root_opened(&s),
            vec![
                (1, "pid", "/var/run/nginx.pid"),
                (4, "access_log", "/var/log/a.log"),
                (5, "ssl_certificate", "/etc/ssl/x.pem"),
            ]
        );
    }

    #[test]
    fn where_http_servers_listen() {
        let l = |t: &str| -> Vec<(usize, String, u16)> {
            listens(&statements(t).unwrap())
                .into_iter()
                .map(|l| (l.line, l.host, l.port))
                .collect()
        };
        let t = "http {\n upstream a { server 127.0.0.1:8080; }\n server {\n  listen 80 default_server;\n  listen [::]:80;\n }\n server {\n  listen 127.0.0.1:8081 ssl;\n  listen unix:/run/n.sock;\n }\n server {\n  server_name x;\n }\n}\nstream { server { listen 9000; } }\n";
        assert_eq!(
            l(t),
            [
                (4, "*".to_string(), 80),
                (5, "[::]".into(), 80),
                (8, "127.0.0.1".into(), 8081),
                (11, "*".into(), 80),
            ]
        );
        // An included file holds `server` blocks at its top level.
        assert_eq!(
            l("server { listen localhost; }\n"),
            [(1, "localhost".to_string(), 80)]
        );
        assert_eq!(
            l("server {\n location / { }\n}\n"),
            [(1, "*".to_string(), 80)]
        );
        assert!(l("events {}\n").is_empty());
        let on = |host: &str| {
            Listen {
                line: 1,
                host: host.into(),
                port: 80,
            }
            .on_loopback_v4()
        };
        assert!(on("*") && on("127.0.0.1") && on("localhost") && on("0.0.0.0"));
        assert!(!on("[::]") && !on("10.0.0.5"));
    }

    #[test]
    fn replace_words_keeps_every_other_byte() {
        let t = "include  'a.conf' ; # x\ninclude b.conf;\n";
        let s = statements(t).unwrap();
        let inc: Vec<(usize, &Word)> = includes(&s).collect();
        let out = replace_words(t, &[(inc[1].1, "B".into()), (inc[0].1, "A".into())]);
        assert_eq!(out, "include  A ; # x\ninclude B;\n");
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.conf", "a.conf"));
        assert!(!glob_match("*.conf", "a.conf~"));
        assert!(glob_match("a?c", "abc"));
        assert!(has_glob("conf.d/*.conf") && !has_glob("/etc/nginx/mime.types"));
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
}
