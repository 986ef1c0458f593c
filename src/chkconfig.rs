//! Pure parsers for chkconfig 1.3.49.3, which manages the SysV services of
//! Amazon Linux AMI 2018.03.
//!
//! * [`parse_list_line`] / [`parse_list`] read `chkconfig --list [NAME]`.
//! * [`classify_stderr`] turns chkconfig's error messages into an enum.
//! * [`parse_header`] reads the `# chkconfig: - 85 15` line of an init script.
//! * [`levels_from_links`] computes what `--list` would print from the
//!   `rcN.d` link names, for trees chkconfig cannot be run on.
//!
//! Nothing here does I/O: strings in, data out.

use std::error::Error;
use std::fmt;

/// One line of `chkconfig --list`: a service and its state in runlevels 0-6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLevels {
    pub name: String,
    /// `levels[n]` is true when the service is on in runlevel `n`.
    pub levels: [bool; 7],
}

impl ServiceLevels {
    /// On in at least one runlevel.
    pub fn any_on(&self) -> bool {
        self.levels.contains(&true)
    }
}

/// Reproduces chkconfig's line (without the newline): the name in
/// `%-15s`, then `\t0:off\t1:off\t2:on...`. C's `%-15s` pads to 15 bytes,
/// not 15 characters, as the parser expects.
impl fmt::Display for ServiceLevels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pad = 15usize.saturating_sub(self.name.len());
        write!(f, "{}{:pad$}", self.name, "")?;
        for (level, on) in self.levels.iter().enumerate() {
            write!(f, "\t{level}:{}", if *on { "on" } else { "off" })?;
        }
        Ok(())
    }
}

pub use crate::output::ParseError;

/// One `--list` line, without its newline. Strict: the name must be padded
/// with spaces to exactly 15 bytes (longer names are not padded), followed
/// by exactly `\t0:on|off` ... `\t6:on|off`.
fn parse_line(line: &str) -> Result<ServiceLevels, &'static str> {
    let mut fields = line.split('\t');
    let padded = fields.next().unwrap_or_default();
    let name = padded.trim_end_matches(' ');
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("bad service name");
    }
    if padded.len() != name.len().max(15) {
        return Err("service name is not padded to 15 columns");
    }
    let mut levels = [false; 7];
    for (level, slot) in levels.iter_mut().enumerate() {
        let field = fields.next().ok_or("expected seven runlevel fields")?;
        let (n, state) = field.split_once(':').ok_or("expected N:on or N:off")?;
        if n != level.to_string() {
            return Err("runlevels not in order 0-6");
        }
        *slot = match state {
            "on" => true,
            "off" => false,
            _ => return Err("expected on or off"),
        };
    }
    if fields.next().is_some() {
        return Err("more than seven runlevel fields");
    }
    Ok(ServiceLevels {
        name: name.to_string(),
        levels,
    })
}

/// Parse the stdout of `chkconfig --list NAME`: exactly one line. The final
/// newline chkconfig prints may be missing (e.g. trimmed by the caller).
pub fn parse_list_line(out: &str) -> Result<ServiceLevels, ParseError> {
    let body = out.strip_suffix('\n').unwrap_or(out);
    let mut lines = body.split('\n');
    let first = lines.next().unwrap_or_default();
    if let Some(second) = lines.next() {
        return Err(ParseError {
            program: "chkconfig",
            line: 2,
            text: second.to_string(),
            reason: "expected exactly one line",
        });
    }
    let reason = if first.is_empty() {
        Err("no output")
    } else {
        parse_line(first)
    };
    reason.map_err(|reason| ParseError {
        program: "chkconfig",
        line: 1,
        text: first.to_string(),
        reason,
    })
}

/// Parse the stdout of `chkconfig --list`: one line per service that has rc
/// links (chkconfig sorts them by name; not checked here). Empty output, as
/// on a tree with no links at all, is an empty list.
///
/// Only the SysV section is understood: with xinetd installed chkconfig
/// appends an "xinetd based services:" section, which is reported as an error.
pub fn parse_list(out: &str) -> Result<Vec<ServiceLevels>, ParseError> {
    out.split_terminator('\n')
        .enumerate()
        .map(|(i, line)| {
            parse_line(line).map_err(|reason| ParseError {
                program: "chkconfig",
                line: i + 1,
                text: line.to_string(),
                reason,
            })
        })
        .collect()
}

/// What went wrong, from chkconfig's stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChkconfigError {
    /// `error reading information on service X: No such file or directory`:
    /// no `/etc/init.d/X` (or, e.g., the service is really named differently).
    NoSuchService(String),
    /// `service X does not support chkconfig`: the script has no header.
    NotSupported(String),
    /// `service X supports chkconfig, but is not referenced in any runlevel
    /// (run 'chkconfig --add X')`: no rc links (never added, or `--del`eted).
    NotReferenced(String),
    /// Anything else (usage text, other errno messages, ...): the whole
    /// stderr, trimmed. Note that the query form `chkconfig NAME` reports
    /// only through its exit status, with empty stderr.
    Other(String),
}

impl fmt::Display for ChkconfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChkconfigError::NoSuchService(s) => {
                write!(f, "error reading information on service {s}: No such file or directory")
            }
            ChkconfigError::NotSupported(s) => write!(f, "service {s} does not support chkconfig"),
            ChkconfigError::NotReferenced(s) => write!(
                f,
                "service {s} supports chkconfig, but is not referenced in any runlevel (run 'chkconfig --add {s}')"
            ),
            ChkconfigError::Other(msg) => f.write_str(msg),
        }
    }
}

impl Error for ChkconfigError {}

/// Classify chkconfig's stderr by its first non-empty line.
pub fn classify_stderr(stderr: &str) -> ChkconfigError {
    const NOT_REFERENCED: &str =
        " supports chkconfig, but is not referenced in any runlevel (run 'chkconfig --add ";
    let line = stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim_end();
    let service = line.strip_prefix("service ");
    if let Some(name) = line
        .strip_prefix("error reading information on service ")
        .and_then(|r| r.strip_suffix(": No such file or directory"))
    {
        ChkconfigError::NoSuchService(name.to_string())
    } else if let Some(name) = service.and_then(|r| r.strip_suffix(" does not support chkconfig")) {
        ChkconfigError::NotSupported(name.to_string())
    } else if let Some((name, _)) = service
        .and_then(|r| r.split_once(NOT_REFERENCED))
        .filter(|(name, tail)| tail.strip_suffix("')") == Some(*name))
    {
        ChkconfigError::NotReferenced(name.to_string())
    } else {
        ChkconfigError::Other(stderr.trim().to_string())
    }
}

/// The `# chkconfig: LEVELS START STOP` header of an init script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `-` (off everywhere after `--add`) or the runlevel digits, e.g. `2345`.
    pub levels: String,
    /// Start priority: the `nn` of `rcN.d/Snn<name>`.
    pub start: u32,
    /// Stop priority: the `nn` of `rcN.d/Knn<name>`.
    pub stop: u32,
}

/// Find and parse the first `# chkconfig:` line (a `#` in column 0, then
/// any blanks; fields separated by any spaces/tabs). `None` when there is no
/// such line, or the first one is not `LEVELS START STOP` with LEVELS `-` or
/// digits 0-6 and two non-negative integers (`02` is 2).
///
/// LSB `### BEGIN INIT INFO` blocks, which chkconfig also honours, are not
/// read here.
pub fn parse_header(script: &str) -> Option<Header> {
    let args = script.lines().find_map(|line| {
        line.strip_prefix('#')?
            .trim_start_matches([' ', '\t'])
            .strip_prefix("chkconfig:")
    })?;
    let mut fields = args.split([' ', '\t']).filter(|f| !f.is_empty());
    let levels = fields.next()?;
    let start = fields.next()?.parse().ok()?;
    let stop = fields.next()?.parse().ok()?;
    let levels_ok = levels == "-" || levels.bytes().all(|b| (b'0'..=b'6').contains(&b));
    (levels_ok && fields.next().is_none()).then(|| Header {
        levels: levels.to_string(),
        start,
        stop,
    })
}

/// Compute `chkconfig --list SERVICE` from link names found in rc0.d-rc6.d,
/// given as `(runlevel, file name)`, e.g. `(3, "S85nginx")`.
///
/// A link belongs to the service when its name is `S` or `K`, two digits,
/// then exactly the service name (so `S20redis` is not `redis-server`'s). A
/// runlevel is on when it has such an `S` link. `None` when the service has
/// no `S`/`K` link anywhere: chkconfig's "not referenced in any runlevel".
/// Entries for runlevels above 6 are ignored.
pub fn levels_from_links(names: &[(u8, String)], service: &str) -> Option<ServiceLevels> {
    let mut levels = [false; 7];
    let mut referenced = false;
    for (level, name) in names {
        let Some(slot) = levels.get_mut(usize::from(*level)) else {
            continue;
        };
        let b = name.as_bytes();
        let ours = b.len() > 3
            && matches!(b[0], b'S' | b'K')
            && b[1].is_ascii_digit()
            && b[2].is_ascii_digit()
            && name[3..] == *service;
        if ours {
            referenced = true;
            *slot |= b[0] == b'S';
        }
    }
    referenced.then(|| ServiceLevels {
        name: service.to_string(),
        levels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_OFF: [bool; 7] = [false; 7];
    const ON_2345: [bool; 7] = [false, false, true, true, true, true, false];
    const ON_345: [bool; 7] = [false, false, false, true, true, true, false];

    fn svc(name: &str, levels: [bool; 7]) -> ServiceLevels {
        ServiceLevels {
            name: name.into(),
            levels,
        }
    }

    // --- --list output from the transcript -------------------------------

    /// `chkconfig --list` after `monit off` and `--level 2 nginx off`.
    const LIST_1: &str = "\
memcached      \t0:off\t1:off\t2:off\t3:off\t4:off\t5:off\t6:off
monit          \t0:off\t1:off\t2:off\t3:off\t4:off\t5:off\t6:off
nginx          \t0:off\t1:off\t2:off\t3:on\t4:on\t5:on\t6:off
redis          \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off
";

    /// `chkconfig --list` at the end (monit was `--del`eted, so it is gone).
    const LIST_2: &str = "\
memcached      \t0:off\t1:off\t2:off\t3:off\t4:off\t5:off\t6:off
nginx          \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off
redis          \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off
";

    #[test]
    fn transcript_full_lists() {
        assert_eq!(
            parse_list(LIST_1).unwrap(),
            vec![
                svc("memcached", ALL_OFF),
                svc("monit", ALL_OFF),
                svc("nginx", ON_345),
                svc("redis", ON_2345),
            ]
        );
        assert_eq!(
            parse_list(LIST_2).unwrap(),
            vec![
                svc("memcached", ALL_OFF),
                svc("nginx", ON_2345),
                svc("redis", ON_2345)
            ]
        );
        // The very first `chkconfig --list` (no links yet) printed nothing.
        assert_eq!(parse_list("").unwrap(), vec![]);
    }

    #[test]
    fn transcript_single_lines() {
        let nginx_off =
            parse_list_line("nginx          \t0:off\t1:off\t2:off\t3:off\t4:off\t5:off\t6:off\n")
                .unwrap();
        assert_eq!(nginx_off, svc("nginx", ALL_OFF));
        assert!(!nginx_off.any_on());
        let redis =
            parse_list_line("redis          \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off\n")
                .unwrap();
        assert_eq!(redis, svc("redis", ON_2345));
        assert!(redis.any_on());
        let nginx_on =
            parse_list_line("nginx          \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off\n")
                .unwrap();
        assert_eq!(nginx_on.levels, ON_2345);
    }

    #[test]
    fn display_round_trips() {
        for list in [LIST_1, LIST_2] {
            let rendered: String = parse_list(list)
                .unwrap()
                .iter()
                .map(|s| format!("{s}\n"))
                .collect();
            assert_eq!(rendered, list);
        }
        let long = svc("elastic-network-interfaces", ON_345);
        assert_eq!(
            long.to_string(),
            "elastic-network-interfaces\t0:off\t1:off\t2:off\t3:on\t4:on\t5:on\t6:off"
        );
    }

    /// Found by `cargo xtask fuzz` (chkconfig): a non-ASCII name is padded to 15 bytes
    /// by chkconfig's `%-15s` and by the parser, but Display padded it to 15 characters.
    #[test]
    fn display_pads_non_ascii_names_to_15_bytes() {
        let line = "caf\u{e9}-\u{20a9}      \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off";
        assert_eq!(line.split('\t').next().unwrap().len(), 15);
        assert_eq!(parse_list_line(line).unwrap().to_string(), line);
    }

    // --- odd names and malformed lines -----------------------------------

    #[test]
    fn long_names_are_not_padded() {
        let line = "elastic-network-interfaces\t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off\n";
        assert_eq!(
            parse_list_line(line).unwrap().name,
            "elastic-network-interfaces"
        );
        // Exactly 15 bytes: no padding either.
        let line = "abcdefghijklmno\t0:off\t1:off\t2:off\t3:off\t4:off\t5:off\t6:off";
        assert_eq!(parse_list_line(line).unwrap().name, "abcdefghijklmno");
        // A long name padded anyway is not what chkconfig prints.
        let line = "elastic-network-interfaces \t0:off\t1:off\t2:off\t3:off\t4:off\t5:off\t6:off";
        assert!(parse_list_line(line).is_err());
    }

    #[test]
    fn missing_newline_is_accepted() {
        let line = "redis          \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off";
        assert_eq!(parse_list_line(line).unwrap(), svc("redis", ON_2345));
        assert_eq!(parse_list(line).unwrap().len(), 1);
    }

    #[test]
    fn malformed_lines_are_rejected() {
        let cases = [
            (
                "redis          \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on",
                "expected seven runlevel fields",
            ),
            (
                "redis          \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off\t7:off",
                "more than seven runlevel fields",
            ),
            (
                "redis          \t0:off\t1:off\t2:maybe\t3:on\t4:on\t5:on\t6:off",
                "expected on or off",
            ),
            (
                "redis          \t0:off\t1:off\t2:On\t3:on\t4:on\t5:on\t6:off",
                "expected on or off",
            ),
            (
                "redis          \t1:off\t0:off\t2:on\t3:on\t4:on\t5:on\t6:off",
                "runlevels not in order 0-6",
            ),
            (
                "redis          \t0 off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off",
                "expected N:on or N:off",
            ),
            (
                "redis\t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off",
                "service name is not padded to 15 columns",
            ),
            (
                "redis           \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off",
                "service name is not padded to 15 columns",
            ),
            (
                "               \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off",
                "bad service name",
            ),
            (
                "my service     \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off",
                "bad service name",
            ),
            (
                "redis          \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off\r",
                "expected on or off",
            ),
            (
                "redis          \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off\t",
                "more than seven runlevel fields",
            ),
            ("", "no output"),
        ];
        for (line, reason) in cases {
            let err = parse_list_line(line).unwrap_err();
            assert_eq!((err.line, err.text.as_str(), err.reason), (1, line, reason));
        }
    }

    #[test]
    fn list_line_wants_exactly_one_line() {
        let err = parse_list_line(LIST_2).unwrap_err();
        assert_eq!((err.line, err.reason), (2, "expected exactly one line"));
        assert!(err.text.starts_with("nginx"));
        assert_eq!(parse_list_line("\n").unwrap_err().reason, "no output");
    }

    #[test]
    fn list_errors_name_the_line() {
        let out = format!("{LIST_2}\nxinetd based services:\n\tchargen-dgram:\toff\n");
        let err = parse_list(&out).unwrap_err();
        assert_eq!((err.line, err.text.as_str()), (4, ""));
        let err = parse_list("redis          \t0:off\ngarbage\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert_eq!(
            err.to_string(),
            "chkconfig output line 1: expected seven runlevel fields: \"redis          \\t0:off\""
        );
    }

    // --- errors ----------------------------------------------------------

    #[test]
    fn classify_transcript_errors() {
        use ChkconfigError::*;
        let cases = [
            (
                "error reading information on service nosuchsvc: No such file or directory\n",
                NoSuchService("nosuchsvc".into()),
            ),
            ("service noheader does not support chkconfig\n", NotSupported("noheader".into())),
            (
                "service monit supports chkconfig, but is not referenced in any runlevel (run 'chkconfig --add monit')\n",
                NotReferenced("monit".into()),
            ),
            (
                "only one runlevel may be specified for a chkconfig query\n",
                Other("only one runlevel may be specified for a chkconfig query".into()),
            ),
            ("", Other(String::new())),
            (
                "error reading information on service x: Permission denied\n",
                Other("error reading information on service x: Permission denied".into()),
            ),
            (
                "service a supports chkconfig, but is not referenced in any runlevel (run 'chkconfig --add b')\n",
                Other("service a supports chkconfig, but is not referenced in any runlevel (run 'chkconfig --add b')".into()),
            ),
        ];
        for (stderr, want) in cases {
            let got = classify_stderr(stderr);
            assert_eq!(got, want, "{stderr:?}");
            if !matches!(got, Other(_)) {
                assert_eq!(format!("{got}\n"), stderr, "Display reproduces the message");
            }
        }
        let usage = "chkconfig version 1.3.49.3 - Copyright (C) 1997-2000 Red Hat, Inc.\n\
                     This may be freely redistributed under the terms of the GNU Public License.\n\
                     \n\
                     usage:   chkconfig [--list] [--type <type>] [name]\n";
        assert!(matches!(classify_stderr(usage), Other(s) if s.starts_with("chkconfig version")));
    }

    // --- headers ---------------------------------------------------------

    /// Headers of the packaged scripts in /etc/rc.d/init.d (verbatim).
    const NGINX_SCRIPT: &str =
        "#!/bin/sh\n#\n# nginx - this script starts and stops the nginx daemon\n#\n\
        # chkconfig:   - 85 15\n\
        # description:  Nginx is an HTTP(S) server, HTTP(S) reverse \\\n\
        #               proxy and IMAP/POP3 proxy server\n\
        # processname: nginx\n";
    const REDIS_SCRIPT: &str =
        "#!/bin/sh\n#\n# redis        init file for starting up the redis daemon\n#\n\
        # chkconfig:   - 20 80\n\
        # description: Starts and stops the redis daemon.\n";
    const MONIT_SCRIPT: &str = "#!/bin/bash\n#\n# Init file for Monit system monitor\n\
        # Written by Stewart Adam <s.adam@diffingo.com>\n\
        # based on script by Dag Wieers <dag@wieers.com>.\n#\n\
        # chkconfig: - 98 02\n\
        # description: Utility for monitoring services on a Unix system\n";

    fn header(levels: &str, start: u32, stop: u32) -> Option<Header> {
        Some(Header {
            levels: levels.into(),
            start,
            stop,
        })
    }

    #[test]
    fn packaged_script_headers() {
        assert_eq!(parse_header(NGINX_SCRIPT), header("-", 85, 15));
        assert_eq!(parse_header(REDIS_SCRIPT), header("-", 20, 80));
        assert_eq!(parse_header(MONIT_SCRIPT), header("-", 98, 2));
    }

    #[test]
    fn header_variants() {
        assert_eq!(
            parse_header("#chkconfig:2345 55 25\n"),
            header("2345", 55, 25)
        );
        assert_eq!(
            parse_header("#\t chkconfig:\t345\t\t10 90  \n"),
            header("345", 10, 90)
        );
        assert_eq!(parse_header("# chkconfig: - 85 15"), header("-", 85, 15));
        // The first chkconfig line decides.
        assert_eq!(
            parse_header("# chkconfig: 35 1 2\n# chkconfig: - 3 4\n"),
            header("35", 1, 2)
        );
        for bad in [
            "",
            "#!/bin/sh\necho hi\n",
            "  # chkconfig: - 85 15\n",
            "echo # chkconfig: - 85 15\n",
            "# chkconfig - 85 15\n",
            "# chkconfig: - 85\n",
            "# chkconfig: - 85 15 extra\n",
            "# chkconfig: 2347 85 15\n",
            "# chkconfig: on 85 15\n",
            "# chkconfig: - 85 -15\n",
            "# chkconfig: - eighty 15\n",
            "# chkconfig:\n",
            "# CHKCONFIG: - 85 15\n",
        ] {
            assert_eq!(parse_header(bad), None, "{bad:?}");
        }
    }

    // --- rc links --------------------------------------------------------

    /// The rc?.d links shown in the transcript before `chkconfig nginx off`.
    const LINKS_BEFORE: &str = "\
rc0.d/K01monit rc0.d/K15nginx rc0.d/K15redis rc0.d/K45memcached
rc1.d/K01monit rc1.d/K15nginx rc1.d/K15redis rc1.d/K45memcached
rc2.d/K01monit rc2.d/K15nginx rc2.d/K45memcached rc2.d/S85redis
rc3.d/K01monit rc3.d/K45memcached rc3.d/S85nginx rc3.d/S85redis
rc4.d/K01monit rc4.d/K45memcached rc4.d/S85nginx rc4.d/S85redis
rc5.d/K01monit rc5.d/K45memcached rc5.d/S85nginx rc5.d/S85redis
rc6.d/K01monit rc6.d/K15nginx rc6.d/K15redis rc6.d/K45memcached";

    /// ... and after it: nginx's S85 links became K15.
    const LINKS_AFTER: &str = "\
rc0.d/K01monit rc0.d/K15nginx rc0.d/K15redis rc0.d/K45memcached
rc1.d/K01monit rc1.d/K15nginx rc1.d/K15redis rc1.d/K45memcached
rc2.d/K01monit rc2.d/K15nginx rc2.d/K45memcached rc2.d/S85redis
rc3.d/K01monit rc3.d/K15nginx rc3.d/K45memcached rc3.d/S85redis
rc4.d/K01monit rc4.d/K15nginx rc4.d/K45memcached rc4.d/S85redis
rc5.d/K01monit rc5.d/K15nginx rc5.d/K45memcached rc5.d/S85redis
rc6.d/K01monit rc6.d/K15nginx rc6.d/K15redis rc6.d/K45memcached";

    /// `rcN.d/NAME` words into `(N, NAME)` pairs.
    fn links(listing: &str) -> Vec<(u8, String)> {
        listing
            .split_whitespace()
            .map(|w| {
                let (dir, name) = w.split_once('/').unwrap();
                (dir.as_bytes()[2] - b'0', name.to_string())
            })
            .collect()
    }

    #[test]
    fn links_reproduce_the_transcript_lists() {
        let before = links(LINKS_BEFORE);
        let listed: Vec<_> = ["memcached", "monit", "nginx", "redis"]
            .iter()
            .map(|s| levels_from_links(&before, s).unwrap())
            .collect();
        assert_eq!(listed, parse_list(LIST_1).unwrap());
        let after = links(LINKS_AFTER);
        assert_eq!(
            levels_from_links(&after, "nginx"),
            Some(svc("nginx", ALL_OFF))
        );
        assert_eq!(
            levels_from_links(&after, "redis"),
            Some(svc("redis", ON_2345))
        );
    }

    #[test]
    fn names_must_match_exactly() {
        let before = links(LINKS_BEFORE);
        assert_eq!(levels_from_links(&before, "redis-server"), None);
        assert_eq!(levels_from_links(&before, "redi"), None);
        assert_eq!(levels_from_links(&before, "nosuchsvc"), None);
        let server = vec![
            (3, "S20redis-server".to_string()),
            (0, "K80redis-server".to_string()),
        ];
        assert_eq!(levels_from_links(&server, "redis"), None);
        let on3 = [false, false, false, true, false, false, false];
        assert_eq!(
            levels_from_links(&server, "redis-server"),
            Some(svc("redis-server", on3))
        );
    }

    #[test]
    fn odd_link_names_are_ignored() {
        let odd: Vec<(u8, String)> = [
            (3, "S5redis"),   // one digit
            (3, "Sxxredis"),  // not digits
            (3, "s20redis"),  // lower case
            (3, "S20redis~"), // trailing junk
            (3, "S20"),       // no name
            (3, "README"),
            (7, "S20redis"), // no runlevel 7
        ]
        .into_iter()
        .map(|(l, n)| (l, n.to_string()))
        .collect();
        assert_eq!(levels_from_links(&odd, "redis"), None);
        // A K link alone is "referenced", all off.
        let k_only = vec![(0, "K80redis".to_string())];
        assert_eq!(
            levels_from_links(&k_only, "redis"),
            Some(svc("redis", ALL_OFF))
        );
        // S and K in the same runlevel: the S link makes it on.
        let both = vec![(3, "K80redis".to_string()), (3, "S20redis".to_string())];
        assert!(levels_from_links(&both, "redis").unwrap().levels[3]);
        assert_eq!(levels_from_links(&[], "redis"), None);
    }
}
