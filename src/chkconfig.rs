//! chkconfig 1.3.49.3, which manages the SysV services of Amazon Linux AMI 2018.03, as
//! data.
//!
//! * [`parse_header`] reads an init script as chkconfig does (does it "support chkconfig"?).
//! * [`list_line`] is `chkconfig --list NAME` computed from what chkconfig reads (the init
//!   script and the `rcN.d` link names), with its rules and its errors: blotctl observes
//!   SysV state this way, with no spawn, and runs chkconfig only to change it.
//!
//! Nothing here does I/O: bytes and names in, data out.

use std::error::Error;
use std::fmt;

/// One line of `chkconfig --list`: a service and its state in runlevels 0-6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLevels {
    pub name: String,
    /// `levels[n]` is true when the service is on in runlevel `n`.
    pub levels: [bool; 7],
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

/// The `# chkconfig: LEVELS START STOP` header of an init script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `-` (off everywhere after `--add`) or the runlevel digits, e.g. `2345`.
    pub levels: String,
    /// Start priority: the `nn` of `rcN.d/Snn<name>`.
    pub start: i64,
    /// Stop priority: the `nn` of `rcN.d/Knn<name>`.
    pub stop: i64,
}

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// What chkconfig 1.3.49.3 (`readServiceInfo`) makes of an init script: its header when
/// the script "supports chkconfig", `None` when it prints `service X does not support
/// chkconfig`. The rules, as the fake in `fixtures/bin/chkconfig` (held to the transcript)
/// applies them: lines are scanned until both a `chkconfig:` and a `description:` were
/// found; a line counts when, after any blanks, it starts with `#`, then any blanks, then
/// the keyword. `chkconfig:` must be followed on its line by `LEVELS START STOP` and then
/// the newline at once (`sscanf("%s %d %d%c")` with the `%c` a newline: a trailing blank,
/// or no final newline, makes the script unsupported; the numbers may continue on the
/// next lines, as blanks in a `sscanf` format match newlines); LEVELS is `-` or digits
/// 0-6. `description:` needs some text after it on its line. LSB `### BEGIN INIT INFO`
/// blocks are not read (neither does the fake).
pub fn parse_header(script: &[u8]) -> Option<Header> {
    let n = script.len();
    let mut header: Option<Header> = None;
    let mut described = false;
    let mut pos = 0;
    while pos < n && (header.is_none() || !described) {
        let mut start = pos;
        while start < n && is_c_space(script[start]) {
            start += 1;
        }
        if start >= n {
            break;
        }
        let end = script[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(n, |i| start + i);
        pos = if end < n { end + 1 } else { n };
        if script[start] != b'#' {
            continue;
        }
        start += 1;
        while start < end && is_c_space(script[start]) {
            start += 1;
        }
        if start == end {
            continue;
        }
        let line = &script[start..end];
        if let Some(rest) = line.strip_prefix(b"chkconfig:") {
            let skip = rest.iter().take_while(|b| is_c_space(**b)).count();
            if skip == rest.len() {
                return None;
            }
            header = Some(scan_header(&script[start + 10 + skip..])?);
        } else if let Some(rest) = line.strip_prefix(b"description") {
            if let Some(text) = rest.strip_prefix(b":") {
                described |= text.iter().any(|b| !is_c_space(*b));
            }
        }
    }
    header.filter(|_| described)
}

/// `sscanf(text, "%s %d %d%c")` with the `%c` a newline, and LEVELS `-` or digits 0-6.
fn scan_header(text: &[u8]) -> Option<Header> {
    let mut i = 0;
    let word = |i: &mut usize| {
        let from = *i;
        while *i < text.len() && !is_c_space(text[*i]) {
            *i += 1;
        }
        &text[from..*i]
    };
    let blanks = |i: &mut usize| {
        while *i < text.len() && is_c_space(text[*i]) {
            *i += 1;
        }
    };
    let number = |i: &mut usize| -> Option<i64> {
        blanks(i);
        let from = *i;
        if *i < text.len() && matches!(text[*i], b'+' | b'-') {
            *i += 1;
        }
        let digits = *i;
        while *i < text.len() && text[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == digits {
            return None;
        }
        std::str::from_utf8(&text[from..*i]).ok()?.parse().ok()
    };
    let levels = word(&mut i);
    let start = number(&mut i)?;
    let stop = number(&mut i)?;
    if text.get(i) != Some(&b'\n') {
        return None;
    }
    let levels_ok = levels == b"-" || levels.iter().all(|b| (b'0'..=b'6').contains(b));
    (levels_ok && !levels.is_empty()).then(|| Header {
        levels: String::from_utf8_lossy(levels).into_owned(),
        start,
        stop,
    })
}

/// A service's state in runlevels 0-6 as its rc links make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runlevels {
    /// What `chkconfig --list NAME` prints: a runlevel is on when the *first* of the
    /// service's links there (chkconfig globs without sorting: directory order) is an `S`
    /// link.
    pub listed: ServiceLevels,
    /// Where the box starts it at boot: `/etc/rc.d/rc` runs every `S` link of the runlevel,
    /// whatever else is there. Differs from `listed` only when one runlevel holds both an
    /// `S` and a `K` link of the service, which chkconfig itself never leaves.
    pub at_boot: [bool; 7],
}

/// Exactly what `chkconfig --list NAME` answers, computed from what it reads: the init
/// script `/etc/init.d/NAME` (`None`: there is none) and the names in `/etc/rc0.d` ..
/// `/etc/rc6.d`, each directory in its own order (unsorted, as chkconfig's glob sees it).
///
/// A link belongs to the service when its name is `S` or `K`, two digits, then exactly
/// the service name (the glob `[SK][0-9][0-9]NAME`; so `S20redis` is not
/// `redis-server`'s). Errors are chkconfig's own, with its messages: no script (`error
/// reading information on service X: No such file or directory`), an empty one (`...:
/// Invalid argument`, mmap of nothing), no header ([`parse_header`]: `service X does not
/// support chkconfig`), no link in any runlevel (`... is not referenced in any runlevel`).
pub fn list_line(
    name: &str,
    script: Option<&[u8]>,
    dirs: &[Vec<String>; 7],
) -> Result<Runlevels, ChkconfigError> {
    let script = script.ok_or_else(|| ChkconfigError::NoSuchService(name.into()))?;
    if script.is_empty() {
        return Err(ChkconfigError::Other(format!(
            "error reading information on service {name}: Invalid argument"
        )));
    }
    parse_header(script).ok_or_else(|| ChkconfigError::NotSupported(name.into()))?;
    let mut listed = [false; 7];
    let mut referenced = false;
    for (level, names) in dirs.iter().enumerate() {
        let mut links = names.iter().filter(|l| is_link_of(l, name)).peekable();
        referenced |= links.peek().is_some();
        listed[level] = links.peek().is_some_and(|l| l.starts_with('S'));
    }
    if !referenced {
        return Err(ChkconfigError::NotReferenced(name.into()));
    }
    Ok(Runlevels {
        listed: ServiceLevels {
            name: name.into(),
            levels: listed,
        },
        at_boot: started_at_boot(name, dirs),
    })
}

/// Whether `entry`, a name in an `rcN.d` directory, is one of `name`'s links: chkconfig's
/// glob `[SK][0-9][0-9]NAME`.
pub fn is_link_of(entry: &str, name: &str) -> bool {
    let b = entry.as_bytes();
    b.len() > 3
        && matches!(b[0], b'S' | b'K')
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && entry[3..] == *name
}

/// The runlevels whose `S` link of `name` makes `/etc/rc.d/rc` start it at boot. rc runs
/// every `S` link, whatever chkconfig makes of the init script's header, so this holds
/// even for a script [`list_line`] refuses.
pub fn started_at_boot(name: &str, dirs: &[Vec<String>; 7]) -> [bool; 7] {
    std::array::from_fn(|level| {
        dirs[level]
            .iter()
            .any(|l| l.starts_with('S') && is_link_of(l, name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_OFF: [bool; 7] = [false; 7];

    fn svc(name: &str, levels: [bool; 7]) -> ServiceLevels {
        ServiceLevels {
            name: name.into(),
            levels,
        }
    }

    /// chkconfig's `%-15s`: longer names are not padded; padding counts bytes.
    #[test]
    fn display_is_chkconfigs_line() {
        let on_345 = [false, false, false, true, true, true, false];
        assert_eq!(
            svc("nginx", on_345).to_string(),
            "nginx          \t0:off\t1:off\t2:off\t3:on\t4:on\t5:on\t6:off"
        );
        assert_eq!(
            svc("elastic-network-interfaces", on_345).to_string(),
            "elastic-network-interfaces\t0:off\t1:off\t2:off\t3:on\t4:on\t5:on\t6:off"
        );
        let line = svc("caf\u{e9}-\u{20a9}", ALL_OFF).to_string();
        assert_eq!(line.split('\t').next().unwrap().len(), 15);
    }

    // --- headers ---------------------------------------------------------

    /// The packaged scripts of the fixture box (what `/etc/init.d/NAME` holds on the box).
    const NGINX_SCRIPT: &str =
        include_str!("../fixtures/boxes/amazon-linux-2018.03/etc/rc.d/init.d/nginx");
    const REDIS_SCRIPT: &str =
        include_str!("../fixtures/boxes/amazon-linux-2018.03/etc/rc.d/init.d/redis");
    const MONIT_SCRIPT: &str =
        include_str!("../fixtures/boxes/amazon-linux-2018.03/etc/rc.d/init.d/monit");

    fn header(levels: &str, start: i64, stop: i64) -> Option<Header> {
        Some(Header {
            levels: levels.into(),
            start,
            stop,
        })
    }

    fn parsed(script: &str) -> Option<Header> {
        parse_header(script.as_bytes())
    }

    #[test]
    fn packaged_script_headers() {
        assert_eq!(parsed(NGINX_SCRIPT), header("-", 85, 15));
        assert_eq!(parsed(REDIS_SCRIPT), header("-", 20, 80));
        assert_eq!(parsed(MONIT_SCRIPT), header("-", 98, 2));
    }

    #[test]
    fn header_variants() {
        const DESC: &str = "# description: a service\n";
        let with = |line: &str| parsed(&format!("{line}{DESC}"));
        assert_eq!(with("#chkconfig:2345 55 25\n"), header("2345", 55, 25));
        assert_eq!(
            with("#\t chkconfig:\t345\t\t10 90\n"),
            header("345", 10, 90)
        );
        // Blanks before the `#` are skipped; the numbers may go on on the next lines
        // (a blank in a sscanf format matches newlines); signs are sscanf's.
        assert_eq!(with("   # chkconfig: - 85 15\n"), header("-", 85, 15));
        assert_eq!(with("# chkconfig: -\n 85\n15\n"), header("-", 85, 15));
        assert_eq!(with("# chkconfig: - +85 -15\n"), header("-", 85, -15));
        // The description may come first.
        assert_eq!(
            parsed(&format!("{DESC}# chkconfig: 35 1 2\n")),
            header("35", 1, 2)
        );
        // Until both are found, a later chkconfig line replaces an earlier one; once both
        // are found the rest is not read.
        assert_eq!(
            with("# chkconfig: 35 1 2\n# chkconfig: - 3 4\n"),
            header("-", 3, 4)
        );
        assert_eq!(
            parsed(&format!("{DESC}# chkconfig: 35 1 2\n# chkconfig: - 3 4\n")),
            header("35", 1, 2)
        );
        for bad in [
            "",
            "#!/bin/sh\necho hi\n",
            "echo # chkconfig: - 85 15\n",
            "# chkconfig - 85 15\n",
            "# chkconfig: - 85\n",
            "# chkconfig: - 85 15 extra\n",
            "# chkconfig: - 85 15 \n",
            "# chkconfig: 2347 85 15\n",
            "# chkconfig: on 85 15\n",
            "# chkconfig: - eighty 15\n",
            "# chkconfig:\n",
            "# chkconfig:   \n",
            "# CHKCONFIG: - 85 15\n",
        ] {
            assert_eq!(with(bad), None, "{bad:?}");
        }
        // No final newline after the numbers: `%c` reads nothing.
        assert_eq!(parsed(&format!("{DESC}# chkconfig: - 85 15")), None);
        // A header without a description (or an empty one) does not support chkconfig.
        assert_eq!(parsed("# chkconfig: - 85 15\n"), None);
        assert_eq!(parsed("# chkconfig: - 85 15\n# description:   \n"), None);
        assert_eq!(parsed("# chkconfig: - 85 15\n# description(de): x\n"), None);
        // A malformed chkconfig line before the description stops the scan.
        assert_eq!(
            parsed("# chkconfig: x\n# chkconfig: - 1 2\n# description: d\n"),
            None
        );
    }

    // --- rc links: chkconfig --list computed from the links --------------

    /// The real transcript, replayed: each box state it shows (the link listings it prints,
    /// and the two changes it makes after them that `chkconfig` documents: `nginx on` makes
    /// nginx's links in runlevels 2-5 `S85nginx`, `--del monit` removes monit's), and what
    /// link reading computes for each `chkconfig --list [NAME]` in it, against what the real
    /// chkconfig printed: stdout, stderr and exit code, byte for byte.
    #[test]
    fn link_reading_agrees_with_the_real_transcript() {
        let transcript = include_str!("../fixtures/transcripts/chkconfig-1.3.49.3.txt");
        let steps = transcript_steps(transcript);
        let scripts: Vec<(&str, String)> = vec![
            (
                "memcached",
                "#!/bin/sh\n# chkconfig: - 55 45\n# description: memcached\n".into(),
            ),
            ("monit", MONIT_SCRIPT.into()),
            ("nginx", NGINX_SCRIPT.into()),
            (
                "noheader",
                "#!/bin/sh\n# noheader - no chkconfig line here\necho hi\n".into(),
            ),
            ("redis", REDIS_SCRIPT.into()),
        ];
        let mut state: Option<[Vec<String>; 7]> = Some(Default::default());
        let mut listings = transcript_link_listings(transcript).into_iter();
        let mut compared = 0;
        for (cmd, stdout, stderr, code) in &steps {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            match words.as_slice() {
                ["chkconfig", "--list", rest @ ..] => {
                    let dirs = state.as_ref().expect("a known box state");
                    let (out, err, exit) = simulated_list(&scripts, dirs, rest.first().copied());
                    assert_eq!(
                        (out.as_str(), err.as_str(), exit),
                        (stdout.as_str(), stderr.as_str(), *code),
                        "`{cmd}`"
                    );
                    compared += 1;
                }
                // A command that failed changed nothing.
                _ if *code != 0 => {}
                // Listings follow these in the transcript: the state is the listing.
                ["chkconfig", "--level", "2", "nginx", "off"] | ["chkconfig", "nginx", "off"] => {
                    state = Some(listings.next().expect("a link listing"));
                }
                ["chkconfig", "nginx", "on"] => {
                    let dirs = state.as_mut().expect("state");
                    for names in &mut dirs[2..=5] {
                        names.retain(|n| !n.ends_with("nginx"));
                        names.push("S85nginx".into());
                    }
                }
                ["chkconfig", "--del", "monit"] => {
                    for names in state.as_mut().expect("state").iter_mut() {
                        names.retain(|n| !n.ends_with("monit"));
                    }
                }
                // Adds and other changes before the first listing: no state until then.
                ["chkconfig", "--add", _] | ["chkconfig", "monit", "off"] => state = None,
                _ => {}
            }
        }
        assert_eq!(compared, 9, "every --list of the transcript compared");
        assert!(listings.next().is_none(), "every listing used");
    }

    /// `chkconfig --list [NAME]` on a box with these init scripts (sorted by name, as
    /// chkconfig lists them) and links: stdout, stderr, exit code.
    fn simulated_list(
        scripts: &[(&str, String)],
        dirs: &[Vec<String>; 7],
        name: Option<&str>,
    ) -> (String, String, i32) {
        let script = |n: &str| {
            scripts
                .iter()
                .find(|(s, _)| *s == n)
                .map(|(_, t)| t.as_bytes())
        };
        match name {
            Some(n) => match list_line(n, script(n), dirs) {
                Ok(l) => (format!("{}\n", l.listed), String::new(), 0),
                Err(e) => (String::new(), format!("{e}\n"), 1),
            },
            None => {
                let mut out = String::new();
                for (n, text) in scripts {
                    match list_line(n, Some(text.as_bytes()), dirs) {
                        Ok(l) => out.push_str(&format!("{}\n", l.listed)),
                        // `--list` skips what it cannot list.
                        Err(ChkconfigError::NotSupported(_) | ChkconfigError::NotReferenced(_)) => {
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                (out, String::new(), 0)
            }
        }
    }

    /// The transcript's `$ cmd` steps: command, stdout, stderr, exit code (`cat -A` undone).
    fn transcript_steps(text: &str) -> Vec<(String, String, String, i32)> {
        let decode = |l: &str| {
            let l = l.strip_suffix('$').unwrap_or(l);
            format!("{}\n", l.replace("^I", "\t"))
        };
        let mut steps = Vec::new();
        let mut lines = text.lines();
        while let Some(l) = lines.next() {
            let Some(cmd) = l.strip_prefix("$ ") else {
                continue;
            };
            assert_eq!(lines.next(), Some("--- stdout (cat -A):"));
            let (mut out, mut err, mut in_err) = (String::new(), String::new(), false);
            let code = loop {
                let l = lines.next().expect("the step's end");
                if l == "--- stderr (cat -A):" {
                    in_err = true;
                } else if let Some(c) = l.strip_prefix("--- exit code: ") {
                    break c.parse().unwrap();
                } else if in_err {
                    err.push_str(&decode(l));
                } else {
                    out.push_str(&decode(l));
                }
            };
            steps.push((cmd.to_string(), out, err, code));
        }
        steps
    }

    /// Each `### rc?.d symlinks (...)` listing: the names in rc0.d .. rc6.d.
    fn transcript_link_listings(text: &str) -> Vec<[Vec<String>; 7]> {
        let mut out = Vec::new();
        let mut lines = text.lines();
        while let Some(l) = lines.next() {
            if !l.starts_with("### rc?.d symlinks") {
                continue;
            }
            let mut dirs: [Vec<String>; 7] = Default::default();
            for l in lines.by_ref().take_while(|l| !l.is_empty()) {
                let (dir, rest) = l.split_once('/').unwrap();
                let (name, target) = rest.split_once(" -> ").unwrap();
                assert_eq!(target, format!("../init.d/{}", &name[3..]));
                let level = usize::from(dir.as_bytes()[2] - b'0');
                dirs[level].push(name.to_string());
            }
            out.push(dirs);
        }
        out
    }

    fn dirs(entries: &[(usize, &str)]) -> [Vec<String>; 7] {
        let mut d: [Vec<String>; 7] = Default::default();
        for (level, name) in entries {
            d[*level].push(name.to_string());
        }
        d
    }

    #[test]
    fn names_must_match_exactly() {
        let d = dirs(&[
            (3, "S20redis-server"),
            (0, "K80redis-server"),
            (3, "S5redis"),
        ]);
        let script = Some(REDIS_SCRIPT.as_bytes());
        assert_eq!(
            list_line("redis", script, &d),
            Err(ChkconfigError::NotReferenced("redis".into()))
        );
        let on3 = [false, false, false, true, false, false, false];
        assert_eq!(
            list_line("redis-server", script, &d).unwrap().listed,
            svc("redis-server", on3)
        );
        let odd = dirs(&[
            (3, "Sxxredis"),
            (3, "s20redis"),
            (3, "S20redis~"),
            (3, "S20"),
            (3, "README"),
        ]);
        assert_eq!(
            list_line("redis", script, &odd),
            Err(ChkconfigError::NotReferenced("redis".into()))
        );
    }

    #[test]
    fn errors_come_before_links() {
        let d = dirs(&[(3, "S20redis")]);
        assert_eq!(
            list_line("redis", None, &d),
            Err(ChkconfigError::NoSuchService("redis".into()))
        );
        assert_eq!(
            list_line("redis", Some(b"#!/bin/sh\n"), &d),
            Err(ChkconfigError::NotSupported("redis".into()))
        );
        assert_eq!(
            list_line("redis", Some(b""), &d).unwrap_err().to_string(),
            "error reading information on service redis: Invalid argument"
        );
    }

    /// chkconfig lists a runlevel by the first of the service's links there, in directory
    /// order; the box starts the service in every runlevel that has an S link.
    #[test]
    fn the_first_link_decides_the_listing_any_s_link_the_boot() {
        let script = Some(REDIS_SCRIPT.as_bytes());
        let k_only = list_line("redis", script, &dirs(&[(0, "K80redis")])).unwrap();
        assert_eq!(k_only.listed, svc("redis", ALL_OFF));
        assert_eq!(k_only.at_boot, ALL_OFF);
        let k_first =
            list_line("redis", script, &dirs(&[(3, "K80redis"), (3, "S20redis")])).unwrap();
        assert!(!k_first.listed.levels[3]);
        assert!(k_first.at_boot[3]);
        let s_first =
            list_line("redis", script, &dirs(&[(3, "S20redis"), (3, "K80redis")])).unwrap();
        assert!(s_first.listed.levels[3] && s_first.at_boot[3]);
    }
}
