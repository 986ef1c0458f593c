//! The files blotctl writes or relies on, checked by the real programs that read them —
//! Debian's visudo (sudo 1.9), monit 5.33, nginx 1.22 — and, where the box's own older
//! program cannot run here, by our own checks standing in for it:
//!
//! | file | real program here | stands in for the box's |
//! |---|---|---|
//! | rendered /etc/sudoers | `visudo -c -f` | sudo 1.8.6: ours, [`only_removes`]: the edit adds no syntax, it only comments out or drops `requiretty` |
//! | rendered /etc/monit.rc | `monit -t` | monit 5.1: ours, [`monit51::check`], a whitelist of monit 5.1's grammar |
//! | the box's nginx.conf | `nginx -t` | (nginx on the box is 1.x as well) |
//! | rendered upstart jobs | none (upstart cannot run here) | upstart 0.6.5: ours, `blotctl::upstart::lint_job`, tested against the transcript's error lines in src/upstart.rs |
//!
//! Each real check is also shown to bite (a broken file fails it). The live stack
//! (live.rs) then runs all of it together.

use crate::util::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

// ------------------------------------------------------------------------------ sudoers

/// The stock line of the box's sudoers and the forms a box may carry instead.
fn sudoers_variants() -> Vec<(&'static str, String)> {
    let stock = std::fs::read_to_string(fixture_box().join("etc/sudoers")).unwrap();
    let line = "\nDefaults    requiretty\n";
    assert_eq!(stock.matches(line).count(), 1);
    let with = |to: &str| stock.replacen(line, &format!("\n{to}\n"), 1);
    vec![
        ("stock Amazon Linux 2018.03", stock.clone()),
        (
            "RHEL 6.8 update (no requiretty)",
            stock.replacen(line, "\n", 1),
        ),
        (
            "requiretty among options",
            with("Defaults    env_reset, requiretty, !visiblepw"),
        ),
        (
            "requiretty first, with a comment",
            with("Defaults    requiretty, env_keep += \"SSH_AUTH_SOCK\" # agent"),
        ),
        ("root scope", with("Defaults:root requiretty")),
        ("runas scope", with("Defaults>ec2-user requiretty")),
        ("host scope", with("Defaults@box requiretty")),
    ]
}

/// Stand-in for sudo 1.8.6 (ours): the rendered file adds no syntax the box's sudo might
/// not know. It has the same lines as the original; each changed line is the original
/// commented out, or a `Defaults` line keeping a subset of the original's words.
fn only_removes(orig: &str, new: &str) -> Result<(), String> {
    let (o, n): (Vec<&str>, Vec<&str>) = (orig.lines().collect(), new.lines().collect());
    if o.len() != n.len() {
        return Err(format!("{} lines became {}", o.len(), n.len()));
    }
    let words = |l: &str| -> Vec<String> {
        l.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    for (i, (a, b)) in o.iter().zip(&n).enumerate() {
        if a == b || *b == format!("#{a}") {
            continue;
        }
        let (wa, wb) = (words(a), words(b));
        let subset = wb.iter().all(|w| wa.contains(w)) && wb.len() < wa.len();
        if !(a.trim_start().starts_with("Defaults") && b.starts_with("Defaults") && subset) {
            return Err(format!("line {}: {a:?} became {b:?}", i + 1));
        }
    }
    Ok(())
}

fn visudo_check(file: &Path) -> Run {
    Command::new("visudo").arg("-c").arg("-f").arg(file).run()
}

#[test]
fn every_rendered_sudoers_passes_visudo() {
    needs!("visudo");
    let b = TestBox::fresh();
    let dir = tempfile::tempdir().unwrap();
    for (i, (what, orig)) in sudoers_variants().into_iter().enumerate() {
        let rendered = match blotctl::steps::sudoers::remove_requiretty(&orig, "ec2-user") {
            Ok(Some(edit)) => edit.text,
            Ok(None) => orig.clone(),
            Err(e) => panic!("{what}: blotctl refuses the file: {e:#}"),
        };
        assert!(
            !rendered.lines().any(|l| {
                let l = l.trim_start();
                l.starts_with("Defaults") && l.contains("requiretty")
            }),
            "{what}: requiretty is still active:\n{rendered}"
        );
        // The real visudo: the original form is valid, and so is what blotctl writes —
        // verbatim (its #includedir reads this machine's /etc/sudoers.d), and with the
        // #includedir moved to the box's sudoers.d so the box's drop-ins are parsed too.
        for (name, text) in [
            ("original", orig.clone()),
            ("rendered", rendered.clone()),
            (
                "rendered, box includedir",
                rendered.replace(
                    "\n#includedir /etc/sudoers.d\n",
                    &format!("\n#includedir {}\n", b.path("/etc/sudoers.d").display()),
                ),
            ),
        ] {
            let f = dir.path().join(format!("sudoers-{i}-{}", name.len()));
            std::fs::write(&f, &text).unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o440)).unwrap();
            let out = visudo_check(&f).about(format!("{what} ({name})"));
            out.success();
            if name.contains("box includedir") {
                out.stdout_has("sudoers.d/cloud-init: parsed OK");
            }
        }
        // Ours, for sudo 1.8.6.
        if let Err(e) = only_removes(&orig, &rendered) {
            panic!("{what}: the rendered sudoers is more than a removal: {e}");
        }
    }
}

#[test]
fn visudo_and_our_sudoers_check_reject_what_they_should() {
    needs!("visudo");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sudoers");
    std::fs::write(&f, "ec2-user ALL = NOPASSWD ALL\n").unwrap();
    let out = visudo_check(&f);
    out.check(out.exit() != Some(0), "visudo accepts it")
        .has("syntax error");

    assert!(only_removes("Defaults requiretty\n", "#Defaults requiretty\n").is_ok());
    assert!(only_removes("Defaults a, requiretty\n", "Defaults a\n").is_ok());
    assert!(only_removes("Defaults requiretty\n", "Defaults !requiretty\n").is_err());
    assert!(only_removes("Defaults requiretty\n", "Defaults requiretty\nx\n").is_err());
    assert!(only_removes("root ALL=(ALL) ALL\n", "root ALL=(ALL) NOPASSWD: ALL\n").is_err());
}

// -------------------------------------------------------------------------------- monit

/// Settings the control file is rendered with: the defaults, the live test's kind, and
/// extremes. monit -t checks that the start/stop programs exist, so they point at the
/// fake upstart's `start`/`stop` (what /sbin/start and /sbin/stop are on the box).
fn monit_settings() -> Vec<(&'static str, String)> {
    let programs = format!(
        "start_program = \"{}\"\nstop_program = \"{}\"\n",
        project().join("fixtures/bin/start").display(),
        project().join("fixtures/bin/stop").display()
    );
    vec![
        ("defaults", programs.clone()),
        (
            "live test",
            format!(
                "{programs}monit_interval = 2\nmonit_start_delay = 1\nblot_port = 40001\n\
                 nginx_port = 40002\nhealth_path = \"/health\"\n"
            ),
        ),
        (
            "extremes",
            format!(
                "{programs}monit_interval = 1\nmonit_start_delay = 0\nblot_port = 1\n\
                 nginx_port = 65535\nhealth_path = \"/a/b.c-d_e/\"\n\
                 app_dir = \"/srv/blot-2.x/current\"\n"
            ),
        ),
    ]
}

fn rendered_monit_rcs() -> Vec<(&'static str, String)> {
    monit_settings()
        .into_iter()
        .map(|(what, toml)| {
            let b = TestBox::fresh();
            b.write("/etc/blotctl.toml", &toml);
            (what, b.render("monit.rc"))
        })
        .collect()
}

/// `monit -t` on this control file text; the file is written 0700 in `dir`.
fn monit_t(text: &str, dir: &Path, name: &str) -> Run {
    let f = dir.join(name);
    std::fs::write(&f, text).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o700)).unwrap();
    monit_syntax_check(&f, dir)
}

#[test]
fn every_rendered_monit_control_file_passes_monit_t_and_our_5_1_check() {
    let real = installed(&["monit"]);
    let dir = tempfile::tempdir().unwrap();
    for (i, (what, text)) in rendered_monit_rcs().into_iter().enumerate() {
        // Ours, for monit 5.1 on the box (runs without monit installed).
        if let Err(e) = monit51::check(&text) {
            panic!("{what}: not accepted by monit 5.1 (our check): {e}\n{text}");
        }
        // The real monit 5.33.
        if real {
            monit_t(&text, dir.path(), &format!("monit-{i}.rc"))
                .about(format!(
                    "{what}: monit -t on the rendered control file:\n{text}"
                ))
                .success()
                .stdout_has("Control file syntax OK");
        }
    }
}

#[test]
fn monit_t_and_our_check_reject_a_broken_control_file() {
    let real = installed(&["monit"]);
    let dir = tempfile::tempdir().unwrap();
    let (_, good) = rendered_monit_rcs().remove(0);
    let line = 1 + good
        .lines()
        .position(|l| l.contains("for 2 cycles then restart"))
        .expect("the control file no longer has the line this test breaks");
    let broken = good.replacen("for 2 cycles then restart", "for 2 cycles restart", 1);
    let err = monit51::check(&broken).unwrap_err();
    assert!(err.contains(&format!("line {line}:")), "{err}");
    if real {
        let out = monit_t(&broken, dir.path(), "broken.rc");
        out.check(out.exit() != Some(0), "monit -t accepts it")
            .stderr_has(&format!("broken.rc:{line}: syntax error"));
    }
}

/// Statements monit 5.33 (here) accepts that monit 5.1 (the box) does not: the reason
/// the real program cannot stand in for the box's, and our check's negative cases.
const NEWER_THAN_5_1: &[(&str, &str)] = &[
    (
        "check process blot matching \"node\"\n  start program = \"/bin/true\"\n",
        "matching",
    ),
    ("set log syslog\n", "set log"),
    (
        "check host x with address 127.0.0.1\n  if failed port 80 protocol http status = 200 then restart\n",
        "line 2",
    ),
    (
        "check host x with address 127.0.0.1\n  if failed port 80 protocol http retry 2 then restart\n",
        "line 2",
    ),
    (
        "check program p with path /bin/true\n  if status != 0 then alert\n",
        "`check p`", // 5.1 reads `check [process]`, and `program` is a noise word
    ),
    (
        "check host x with address 127.0.0.1\n  if failed port 1812 type udp protocol radius secret \"s\" then alert\n",
        "radius",
    ),
];

/// 5.1 syntax our check must accept (from monit 5.1's grammar and manual).
const MONIT_5_1: &str = r#"
set daemon 120 with start delay 240
set logfile syslog facility log_daemon
set idfile /var/monit/id
set statefile /var/monit/state
check process redis with pidfile /var/run/redis/redis.pid
  start program = "/sbin/start redis" with timeout 60 seconds
  stop program  = "/sbin/stop redis"
  if failed host 127.0.0.1 port 6379 type tcp then restart
  if 3 restarts within 5 cycles then timeout
  group cache
check host blot with address 127.0.0.1
  start program = "/sbin/start blot"
  stop program = "/sbin/stop blot"
  if failed port 8080 protocol http request "/health" with timeout 10 seconds
     for 3 times within 5 cycles then restart
     else if succeeded for 2 cycles then alert
  if failed port 8080 then exec "/usr/local/bin/page-me now"
  depends on redis
  every 2 cycles
  mode active
"#;

#[test]
fn our_monit_5_1_check_knows_old_from_new() {
    let real = installed(&["monit"]);
    let dir = tempfile::tempdir().unwrap();
    if let Err(e) = monit51::check(MONIT_5_1) {
        panic!("our check rejects monit 5.1 syntax: {e}");
    }
    for (i, (text, why)) in NEWER_THAN_5_1.iter().enumerate() {
        match monit51::check(text) {
            Ok(()) => panic!("our check accepts what monit 5.1 does not:\n{text}"),
            Err(e) => assert!(e.contains(why), "{text}: {e} (expected it to name {why:?})"),
        }
        if real {
            monit_t(text, dir.path(), &format!("newer-{i}.rc"))
                .about(format!("monit 5.33 on {text}"))
                .success();
        }
    }
}

/// Our stand-in for the control-file parser of monit 5.1.1 (EL6, Amazon Linux AMI
/// 2018.03), which cannot run here. Written from monit 5.1's lexer and grammar (l.l, p.y):
/// the same noise words (`with`, `for`, `within`, `program`, ...), the `start program =
/// "..."` argument form, and a whitelist of the statements a Blot control file may use:
///
/// - `set daemon N [with start delay N]` (5.0+), `set logfile PATH|syslog [facility F]`,
///   `set idfile|statefile|pidfile PATH`;
/// - `check host NAME with address HOST` and `check process NAME with pidfile|path PATH`
///   (`matching` is 5.2+);
/// - in a check: `start|stop program = "..." [with timeout N seconds]`,
///   `if failed [host H] port N [type tcp|udp|tcpssl] [protocol P [request PATH
///   [hostheader H]]] [with timeout N seconds] [RATE] then ACTION [else if
///   succeeded|recovered|passed [RATE] then ACTION]`, `if N restarts within N cycles then
///   ACTION|timeout`, `group G`, `depends on A[, B]`, `every N cycles`,
///   `mode active|passive|manual`, `alert ADDRESS`;
/// - RATE: `[for] N cycles` or `N times within N cycles`; ACTION: alert, restart, start,
///   stop, unmonitor, `exec "..."`; protocols known to 5.1 (no radius, 5.2).
///
/// Anything else is an error: it may be fine for monit 5.33 here and still stop 5.1.
mod monit51 {
    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        Word(String),
        Str(String),
        /// `start program = "ARGS"`, `stop program = "ARGS"`, `exec "ARGS"`.
        Program(String),
    }

    const NOISE: &[&str] = &[
        "is", "as", "are", "for", "on", "only", "with", "within", "without", "program", "programs",
        "and", "has", "using", "use", "the", "sum", "than", "usage", "was", "times", "but", "of",
    ];

    const PROTOCOLS: &[&str] = &[
        "default",
        "http",
        "ftp",
        "smtp",
        "pop",
        "imap",
        "clamav",
        "nntp",
        "ntp3",
        "mysql",
        "dns",
        "ssh",
        "dwp",
        "ldap2",
        "ldap3",
        "rdate",
        "rsync",
        "tns",
        "pgsql",
        "postfix-policy",
        "sip",
        "lmtp",
        "gps",
    ];

    fn lex(text: &str) -> Result<Vec<(usize, Tok)>, String> {
        let c: Vec<char> = text.chars().collect();
        let (mut i, mut line, mut out) = (0, 1, Vec::new());
        let blank = |ch: char| ch == ' ' || ch == '\t';
        while i < c.len() {
            let ch = c[i];
            if ch == '\n' {
                line += 1;
                i += 1;
            } else if ch.is_whitespace() {
                i += 1;
            } else if ch == '#' {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            } else if ch == '"' || ch == '\'' {
                let start = line;
                let mut s = String::new();
                i += 1;
                while i < c.len() && c[i] != ch {
                    line += usize::from(c[i] == '\n');
                    s.push(c[i]);
                    i += 1;
                }
                if i == c.len() {
                    return Err(format!("line {start}: unbalanced quotes"));
                }
                i += 1;
                out.push((start, Tok::Str(s)));
            } else {
                let start = i;
                while i < c.len() && !c[i].is_whitespace() && !"#\"'".contains(c[i]) {
                    i += 1;
                }
                let w: String = c[start..i].iter().collect::<String>().to_ascii_lowercase();
                // l.l: start{ws}?(program)?{ws}?([=]{ws})?["] (likewise stop; exec(ute)?{ws}?["])
                if ["start", "stop", "exec", "execute"].contains(&w.as_str()) {
                    let mut j = i;
                    let skip = |j: &mut usize| {
                        while *j < c.len() && blank(c[*j]) {
                            *j += 1;
                        }
                    };
                    skip(&mut j);
                    if w != "exec" && w != "execute" {
                        if c[j..].starts_with(&['p', 'r', 'o', 'g', 'r', 'a', 'm']) {
                            j += 7;
                            skip(&mut j);
                        }
                        if j + 1 < c.len() && c[j] == '=' && blank(c[j + 1]) {
                            j += 1;
                            skip(&mut j);
                        }
                    }
                    if j < c.len() && c[j] == '"' {
                        let end = c[j + 1..].iter().position(|&x| x == '"');
                        let Some(end) = end else {
                            return Err(format!("line {line}: unbalanced quotes"));
                        };
                        let args: String = c[j + 1..j + 1 + end].iter().collect();
                        let lines = args.matches('\n').count();
                        out.push((line, Tok::Program(args)));
                        line += lines;
                        i = j + end + 2;
                        continue;
                    }
                }
                if !NOISE.contains(&w.as_str()) {
                    out.push((line, Tok::Word(w)));
                }
            }
        }
        Ok(out)
    }

    struct P {
        toks: Vec<(usize, Tok)>,
        i: usize,
    }

    impl P {
        fn word(&self) -> Option<&str> {
            match self.toks.get(self.i) {
                Some((_, Tok::Word(w))) => Some(w),
                _ => None,
            }
        }
        fn err(&self, msg: &str) -> String {
            match self.toks.get(self.i) {
                Some((line, t)) => format!("line {line}: {msg} (at {t:?})"),
                None => format!("at the end: {msg}"),
            }
        }
        fn eat(&mut self, words: &[&str]) -> bool {
            let hit = self.word().is_some_and(|w| words.contains(&w));
            self.i += usize::from(hit);
            hit
        }
        fn expect(&mut self, words: &[&str]) -> Result<(), String> {
            if self.eat(words) {
                Ok(())
            } else {
                Err(self.err(&format!("expected {}", words.join(" or "))))
            }
        }
        fn is_number(&self) -> bool {
            self.word()
                .is_some_and(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
        }
        fn number(&mut self) -> Result<(), String> {
            if self.is_number() {
                self.i += 1;
                Ok(())
            } else {
                Err(self.err("expected a number"))
            }
        }
        fn name(&mut self) -> Result<String, String> {
            match self.toks.get(self.i) {
                Some((_, Tok::Word(w) | Tok::Str(w))) => {
                    let w = w.clone();
                    self.i += 1;
                    Ok(w)
                }
                _ => Err(self.err("expected a name")),
            }
        }
        fn path(&mut self) -> Result<(), String> {
            match self.toks.get(self.i) {
                Some((_, Tok::Word(w) | Tok::Str(w))) if w.starts_with('/') => {
                    self.i += 1;
                    Ok(())
                }
                _ => Err(self.err("expected an absolute path")),
            }
        }
        fn program(&mut self) -> bool {
            let hit = matches!(self.toks.get(self.i), Some((_, Tok::Program(_))));
            self.i += usize::from(hit);
            hit
        }

        fn statement(&mut self) -> Result<(), String> {
            if self.eat(&["set"]) {
                self.set()
            } else if self.eat(&["check"]) {
                self.check()
            } else {
                Err(self.err("expected `set` or `check`"))
            }
        }

        fn set(&mut self) -> Result<(), String> {
            if self.eat(&["daemon"]) {
                self.number()?;
                if self.eat(&["start"]) {
                    self.expect(&["delay"])?;
                    self.number()?;
                }
                Ok(())
            } else if self.eat(&["logfile"]) {
                if self.eat(&["syslog"]) {
                    if self.eat(&["facility"]) {
                        self.name()?;
                    }
                    Ok(())
                } else {
                    self.path()
                }
            } else if self.eat(&["idfile", "statefile", "pidfile"]) {
                self.path()
            } else {
                let w = self.word().unwrap_or("?").to_string();
                Err(self.err(&format!(
                    "`set {w}` is not in the monit 5.1 subset this check knows"
                )))
            }
        }

        fn check(&mut self) -> Result<(), String> {
            if self.eat(&["host"]) {
                self.name()?;
                self.expect(&["address"])?;
                self.name()?;
                if self.options()? == 0 {
                    return Err(self.err("monit 5.1 needs a statement in a `check host`"));
                }
                Ok(())
            } else if self.eat(&["process"]) {
                self.name()?;
                if self.eat(&["pidfile", "path"]) {
                    self.path()?;
                } else if self.word().is_some_and(|w| w.starts_with("match")) {
                    return Err(self.err("`check process ... matching` needs monit 5.2+"));
                } else {
                    return Err(self.err("expected `pidfile PATH`"));
                }
                self.options().map(|_| ())
            } else {
                let w = self.word().unwrap_or("?").to_string();
                Err(self.err(&format!(
                    "`check {w}` is not in the monit 5.1 subset this check knows"
                )))
            }
        }

        /// The statements inside a check; how many.
        fn options(&mut self) -> Result<usize, String> {
            let mut n = 0;
            loop {
                if self.program() {
                    if self.eat(&["timeout"]) {
                        self.number()?;
                        self.expect(&["second", "seconds"])?;
                    }
                } else if self.eat(&["if"]) {
                    self.if_statement()?;
                } else if self.eat(&["group"]) {
                    self.name()?;
                } else if self.eat(&["depends"]) {
                    while self.name()?.ends_with(',') {}
                } else if self.eat(&["every"]) {
                    self.number()?;
                    self.expect(&["cycle", "cycles"])?;
                } else if self.eat(&["mode"]) {
                    self.expect(&["active", "passive", "manual"])?;
                } else if self.eat(&["alert"]) {
                    self.name()?;
                } else {
                    return Ok(n);
                }
                n += 1;
            }
        }

        fn rate(&mut self) -> Result<(), String> {
            if self.is_number() {
                self.number()?;
                if self.is_number() {
                    self.number()?;
                }
                self.expect(&["cycle", "cycles"])?;
            }
            Ok(())
        }

        fn action(&mut self) -> Result<(), String> {
            if self.program() || self.eat(&["alert", "restart", "start", "stop", "unmonitor"]) {
                Ok(())
            } else {
                Err(self.err("expected an action (alert, restart, start, stop, unmonitor, exec)"))
            }
        }

        fn if_statement(&mut self) -> Result<(), String> {
            if self.is_number() {
                self.number()?;
                self.expect(&["restart", "restarts"])?;
                self.number()?;
                self.expect(&["cycle", "cycles"])?;
                self.expect(&["then"])?;
                return if self.eat(&["timeout"]) {
                    Ok(())
                } else {
                    self.action()
                };
            }
            if !self.eat(&["failed"]) {
                return Err(self.err(
                    "only `if failed ... port N ...` and `if N restarts within N cycles` are \
                     in the monit 5.1 subset this check knows",
                ));
            }
            if self.eat(&["host"]) {
                self.name()?;
            }
            self.expect(&["port", "portnumber"])?;
            self.number()?;
            if self.eat(&["type"]) {
                self.expect(&["tcp", "udp", "tcpssl"])?;
            }
            if self.eat(&["protocol", "proto"]) {
                let p = self.name()?;
                if !PROTOCOLS.contains(&p.as_str()) {
                    self.i -= 1;
                    return Err(self.err(&format!("protocol {p} is not known to monit 5.1")));
                }
                if p == "http" && self.eat(&["request"]) {
                    self.path()?;
                    if self.eat(&["hostheader"]) {
                        self.name()?;
                    }
                }
            }
            if self.eat(&["timeout"]) {
                self.number()?;
                self.expect(&["second", "seconds"])?;
            }
            self.rate()?;
            self.expect(&["then"])?;
            self.action()?;
            if self.eat(&["else"]) {
                self.expect(&["if"])?;
                self.expect(&["succeeded", "recovered", "passed"])?;
                self.rate()?;
                self.expect(&["then"])?;
                self.action()?;
            }
            Ok(())
        }
    }

    /// Ok when every statement is in the monit 5.1 subset described above.
    pub fn check(text: &str) -> Result<(), String> {
        let mut p = P {
            toks: lex(text)?,
            i: 0,
        };
        while p.i < p.toks.len() {
            p.statement()?;
        }
        Ok(())
    }
}

// -------------------------------------------------------------------------------- nginx

#[test]
fn the_box_nginx_conf_passes_nginx_t() {
    needs!("nginx");
    let b = TestBox::fresh();
    let [nginx_port, blot_port] = free_ports::<2>();
    b.install_test_nginx_conf(nginx_port, blot_port);
    let run = |b: &TestBox| Command::new("nginx").arg("-t").args(b.nginx_args()).run();
    run(&b)
        .about(format!(
            "nginx -t on the box's nginx.conf:\n{}",
            b.read("/etc/nginx/nginx.conf")
        ))
        .success()
        .stderr_has("test is successful");
    // blotctl's own check (verify: no `localhost` upstream) agrees: nginx -t here cannot
    // see the boot-time resolver failure it guards against.
    let conf = b.read("/etc/nginx/nginx.conf");
    assert_eq!(blotctl::nginx::localhost_upstream(&conf), None);

    // nginx -t bites.
    let broken = conf.replacen(&format!("server 127.0.0.1:{blot_port};"), "server", 1);
    assert_ne!(broken, conf);
    b.write("/etc/nginx/nginx.conf", &broken);
    let out = run(&b);
    out.check(out.exit() != Some(0), "nginx -t accepts it")
        .stderr_has("[emerg]");
}
