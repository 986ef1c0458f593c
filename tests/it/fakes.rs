//! Tests of the test fixtures themselves: the fresh Amazon Linux 2018.03 box tree and the
//! fake `chkconfig` / `initctl` (`start`, `stop`, `status`) in `fixtures/bin/`, checked
//! byte for byte against the real programs' transcripts in `fixtures/transcripts/`.
//!
//! Every test works on its own copy of the box in a temporary directory (`TestBox`).
//! Processes that the fakes spawn carry `BLOTCTL_ROOT=<that copy>` in their environment;
//! the copy's guard kills all of them when it is dropped, also when a test fails.

use crate::util::{Cmd, Run, TestBox};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn fixtures() -> PathBuf {
    fixture::fixtures()
}

/// A fake's run, as the transcripts have it: stdout and stderr (UTF-8, compared byte for
/// byte) and the exit code; shown as the whole run (command line, output, box paths it
/// changed).
struct Out {
    stdout: String,
    stderr: String,
    code: i32,
    run: Run,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.run)
    }
}

/// The fakes on a [`TestBox`], as the tests here run them.
trait Fakes {
    /// Run fixtures/bin/`prog` on this box with `env` over the defaults here.
    fn fake_run(&self, prog: &str, args: &[&str], env: &[(&str, &str)]) -> Out;
    fn chk(&self, args: &[&str]) -> Out {
        self.fake_run("chkconfig", args, &[])
    }
    fn ictl(&self, args: &[&str]) -> Out {
        self.fake_run("initctl", args, &[])
    }
    /// PIDs of live (non-zombie) processes whose environment names this box.
    fn own_processes(&self) -> Vec<u32>;
}

impl Fakes for TestBox {
    fn fake_run(&self, prog: &str, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = Cmd::new(fixtures().join("bin").join(prog));
        cmd.args(args)
            .env("PATH", fast_path())
            .env("BLOTCTL_ROOT", &self.root)
            .env("FAKE_INITCTL_ASSUME_ROOT", "1")
            .env_remove("FAKE_INITCTL_NO_BUS")
            .env_remove("FAKE_RUNLEVEL")
            .env("FAKE_INITCTL_HANG_SECONDS", "5");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let run = cmd.on(self).run();
        Out {
            stdout: run.stdout().to_string(),
            stderr: run.stderr().to_string(),
            code: run.exit().unwrap_or(-1),
            run,
        }
    }

    fn own_processes(&self) -> Vec<u32> {
        self.box_pids()
            .into_iter()
            .map(|p| p as u32)
            .filter(|p| is_alive(*p))
            .collect()
    }
}

/// PATH with the directory of the real `python3` first, so that the fakes'
/// `#!/usr/bin/env python3` skips wrappers such as pyenv's shims (~80 ms a call).
fn fast_path() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::var("PATH").unwrap_or_default();
        let dir = Command::new("python3")
            .args([
                "-c",
                "import os,sys;print(os.path.dirname(os.path.realpath(sys.executable)))",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .filter(|d| Path::new(d).join("python3").exists());
        match dir {
            Some(d) => format!("{d}:{path}"),
            None => path,
        }
    })
}

/// Alive and not a zombie (nothing may reap the fakes' children in a container).
fn is_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s.rfind(')').and_then(|i| s[i + 2..].chars().next()) != Some('Z'),
        Err(_) => false,
    }
}

fn wait_dead(pid: u32) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        if !is_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn kill(pid: u32) {
    let st = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// "NAME start/running, process 123" -> 123
fn pid_of(line: &str) -> u32 {
    let i = line.rfind("process ").expect("a pid") + "process ".len();
    line[i..].trim_end().parse().expect("numeric pid")
}

/// Replace every "process <digits>" by "process PID".
fn norm_pids(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("process ") {
        out.push_str(&rest[..i + 8]);
        rest = &rest[i + 8..];
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n > 0 {
            out.push_str("PID");
        }
        rest = &rest[n..];
    }
    out.push_str(rest);
    out
}

// ------------------------------------------------------------------ transcripts

/// Undo `cat -A` for one captured line: trailing `$` is the newline, `^I` a TAB.
fn decode(line: &str) -> String {
    let line = line.replace("^I", "\t");
    match line.strip_suffix('$') {
        Some(l) => format!("{l}\n"),
        None => line,
    }
}

#[derive(Debug)]
struct Step {
    cmd: String,
    stdout: String,
    stderr: String,
    code: i32,
}

fn chkconfig_transcript() -> String {
    fs::read_to_string(fixtures().join("transcripts/chkconfig-1.3.49.3.txt")).unwrap()
}

fn upstart_transcript() -> String {
    fs::read_to_string(fixtures().join("transcripts/upstart-0.6.5.txt")).unwrap()
}

/// The `$ cmd` / `--- stdout` / `--- stderr` / `--- exit code: N` steps of the chkconfig transcript.
fn chkconfig_steps() -> Vec<Step> {
    let text = chkconfig_transcript();
    let mut lines = text.lines();
    let mut steps = Vec::new();
    while let Some(l) = lines.next() {
        let Some(cmd) = l.strip_prefix("$ ") else {
            continue;
        };
        assert_eq!(lines.next(), Some("--- stdout (cat -A):"));
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let code;
        let mut in_err = false;
        loop {
            let l = lines.next().expect("step end");
            if l == "--- stderr (cat -A):" {
                in_err = true;
            } else if let Some(c) = l.strip_prefix("--- exit code: ") {
                code = c.parse().unwrap();
                break;
            } else if in_err {
                stderr.push_str(&decode(l));
            } else {
                stdout.push_str(&decode(l));
            }
        }
        steps.push(Step {
            cmd: cmd.to_string(),
            stdout,
            stderr,
            code,
        });
    }
    steps
}

/// The symlink listing printed under a `### rc?.d symlinks (...)` heading.
fn chkconfig_link_listing(heading_part: &str) -> Vec<String> {
    let text = chkconfig_transcript();
    let mut lines = text
        .lines()
        .skip_while(|l| !(l.starts_with("### rc?.d") && l.contains(heading_part)));
    lines.next().expect("heading");
    lines
        .take_while(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// The nth (0-based) occurrence of `$ cmd` in the upstart transcript.
fn upstart_step(cmd: &str, nth: usize) -> Step {
    let text = upstart_transcript();
    let head = format!("$ {cmd}");
    let mut lines = text.lines();
    let mut seen = 0;
    while let Some(l) = lines.next() {
        if l != head {
            continue;
        }
        if seen < nth {
            seen += 1;
            continue;
        }
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let mut in_err = false;
        for l in lines.by_ref() {
            if l == "[stderr]" {
                in_err = true;
            } else if let Some(c) = l.strip_prefix("[exit ").and_then(|c| c.strip_suffix(']')) {
                return Step {
                    cmd: cmd.into(),
                    stdout,
                    stderr,
                    code: c.parse().unwrap(),
                };
            } else if in_err {
                stderr.push_str(&decode(l));
            } else {
                stdout.push_str(&decode(l));
            }
        }
    }
    panic!("`$ {cmd}` #{nth} not in the upstart transcript");
}

fn assert_step(out: &Out, want: &Step) {
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str(), out.code),
        (want.stdout.as_str(), want.stderr.as_str(), want.code),
        "`{}`: got {out:?}",
        want.cmd
    );
}

/// Like assert_step, with process ids normalised on both sides.
fn assert_step_pids(out: &Out, want: &Step) {
    assert_eq!(
        (norm_pids(&out.stdout), norm_pids(&out.stderr), out.code),
        (norm_pids(&want.stdout), norm_pids(&want.stderr), want.code),
        "`{}`: got {out:?}",
        want.cmd
    );
}

/// The line for NAME in the final `chkconfig --list` of the transcript.
fn chkconfig_list_line(name: &str) -> String {
    let steps = chkconfig_steps();
    let last = steps
        .iter()
        .rev()
        .find(|s| s.cmd == "chkconfig --list")
        .unwrap();
    last.stdout
        .lines()
        .find(|l| l.split('\t').next().unwrap().trim_end() == name)
        .map(|l| format!("{l}\n"))
        .unwrap()
}

fn rc_links(root: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for n in 0..7 {
        let d = root.join(format!("etc/rc{n}.d"));
        for e in fs::read_dir(&d).unwrap().flatten() {
            let target = fs::read_link(e.path()).unwrap();
            v.push(format!(
                "rc{n}.d/{} -> {}",
                e.file_name().to_str().unwrap(),
                target.display()
            ));
        }
    }
    v.sort();
    v
}

// ------------------------------------------------------------------ the box itself

#[test]
fn box_tree_is_laid_out_like_the_real_one() {
    let b = TestBox::fresh();
    assert_eq!(
        fs::read_link(b.path("etc/init.d")).unwrap(),
        Path::new("rc.d/init.d")
    );
    for n in 0..7 {
        assert_eq!(
            fs::read_link(b.path(&format!("etc/rc{n}.d"))).unwrap(),
            PathBuf::from(format!("rc.d/rc{n}.d"))
        );
    }
    let mode = |p: &str| fs::metadata(b.path(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("etc/sudoers"), 0o440);
    assert_eq!(mode("etc/sudoers.d"), 0o750);
    assert_eq!(mode("etc/sudoers.d/cloud-init"), 0o440);
    assert_eq!(mode("etc/rc.d/init.d/redis"), 0o755);
    let sudoers = fs::read_to_string(b.path("etc/sudoers")).unwrap();
    assert!(sudoers.lines().any(|l| l == "Defaults    requiretty"));
    assert!(sudoers.ends_with("#includedir /etc/sudoers.d\n"));
    let passwd = fs::read_to_string(b.path("etc/passwd")).unwrap();
    assert!(passwd
        .lines()
        .any(|l| l == "ec2-user:x:500:500:EC2 Default User:/home/ec2-user:/bin/bash"));
    assert!(b.path("var/www/blot").is_dir());
    assert!(
        !b.path("var/www/blot/logs").exists(),
        "provisioning creates logs/"
    );
    let redis = fs::read_to_string(b.path("etc/redis.conf")).unwrap();
    for want in [
        "daemonize yes",
        "pidfile /var/run/redis/redis.pid",
        "port 6379",
        "bind 127.0.0.1",
    ] {
        assert!(redis.lines().any(|l| l == want), "{want}");
    }
    let nginx = fs::read_to_string(b.path("etc/nginx/nginx.conf")).unwrap();
    assert!(nginx.contains("server 127.0.0.1:8080;"));
}

// ------------------------------------------------------------------ chkconfig

#[test]
fn chkconfig_lists_the_fresh_box() {
    let b = TestBox::fresh();
    let out = b.chk(&["--list"]);
    // nginx's and redis's lines are the transcript's own (2-5 on); monit's is built the same way.
    let monit = chkconfig_list_line("redis").replacen("redis", "monit", 1);
    let want = format!(
        "{monit}{}{}",
        chkconfig_list_line("nginx"),
        chkconfig_list_line("redis")
    );
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str(), out.code),
        (want.as_str(), "", 0)
    );
    // no arguments lists too (RHEL 6)
    assert_eq!(b.chk(&[]).stdout, want);
    assert_eq!(b.chk(&["--version"]).stdout, "chkconfig version 1.3.49.3\n");
}

/// blotctl reads SysV state from the init script and the rc links, as chkconfig does
/// (`blotctl::chkconfig::list_line`, held to the real transcript in its unit tests). Here
/// it is held to the fake, which acts on a real tree: for each case (init scripts as
/// chkconfig reads or refuses them, links in any runlevel, odd link names, a runlevel with
/// both an S and a K link in whatever order the directory gives them), `chkconfig --list
/// NAME` and `list_line` over the same tree agree byte for byte: stdout, stderr, exit code.
#[test]
fn link_reading_agrees_with_the_fake_chkconfig() {
    use blotctl::chkconfig::list_line;
    const GOOD: &str = "#!/bin/sh\n# chkconfig: 2345 10 90\n# description: a service\n";
    let scripts: &[(&str, Option<&str>)] = &[
        ("good", Some(GOOD)),
        (
            "description first",
            Some("# description: d\n#chkconfig: - 10 90\n"),
        ),
        (
            "blanks and next lines",
            Some("  #\t chkconfig: -\n 10\n\t90\n# description: d\n"),
        ),
        ("signs", Some("# chkconfig: 35 +10 -90\n# description: d\n")),
        (
            "a blank after the numbers",
            Some("# chkconfig: - 10 90 \n# description: d\n"),
        ),
        ("no description", Some("# chkconfig: - 10 90\n")),
        (
            "an empty description",
            Some("# chkconfig: - 10 90\n# description:  \n"),
        ),
        (
            "runlevel 7",
            Some("# chkconfig: 27 10 90\n# description: d\n"),
        ),
        ("no header", Some("#!/bin/sh\necho hi\n")),
        (
            "no final newline",
            Some("# description: d\n# chkconfig: - 10 90"),
        ),
        ("empty", Some("")),
        ("missing", None),
    ];
    let links: &[(&str, &[(usize, &str)])] = &[
        ("none", &[]),
        ("off", &[(0, "K90svc"), (1, "K90svc"), (6, "K90svc")]),
        ("on in 3", &[(3, "S10svc"), (2, "K90svc")]),
        (
            "S and K in 4",
            &[(4, "S10svc"), (4, "K90svc"), (4, "K05svc")],
        ),
        (
            "odd names",
            &[
                (3, "S5svc"),
                (3, "Sxxsvc"),
                (3, "S10svc~"),
                (3, "S10svc-x"),
                (5, "s10svc"),
            ],
        ),
    ];
    let b = TestBox::fresh();
    let rc = |n: usize| b.path(&format!("etc/rc.d/rc{n}.d"));
    // rc0.d .. rc6.d in directory order, as chkconfig's unsorted glob sees them.
    let listing = || -> [Vec<String>; 7] {
        std::array::from_fn(|n| {
            fs::read_dir(rc(n))
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
    };
    let mut compared = 0;
    for (what, script) in scripts {
        let path = b.path("etc/rc.d/init.d/svc");
        let _ = fs::remove_file(&path);
        if let Some(text) = script {
            fs::write(&path, text).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        for (which, set) in links {
            for n in 0..7 {
                for e in fs::read_dir(rc(n)).unwrap().flatten() {
                    if e.file_name().to_string_lossy().contains("svc") {
                        fs::remove_file(e.path()).unwrap();
                    }
                }
            }
            for (n, name) in *set {
                symlink("../init.d/svc", rc(*n).join(name)).unwrap();
            }
            let dirs = listing();
            let bytes = script.map(str::as_bytes);
            let want = match list_line("svc", bytes, &dirs) {
                Ok(l) => (format!("{}\n", l.listed), String::new(), 0),
                Err(e) => (String::new(), format!("{e}\n"), 1),
            };
            let got = b.chk(&["--list", "svc"]);
            assert_eq!(
                (got.stdout.as_str(), got.stderr.as_str(), got.code),
                (want.0.as_str(), want.1.as_str(), want.2),
                "script {what}, links {which}"
            );
            compared += 1;
        }
    }
    // And the fresh box's own services.
    for name in ["redis", "nginx", "monit"] {
        let script = fs::read(b.path(&format!("etc/rc.d/init.d/{name}"))).unwrap();
        let dirs = listing();
        let line = list_line(name, Some(&script), &dirs).unwrap();
        assert_eq!(
            b.chk(&["--list", name]).stdout,
            format!("{}\n", line.listed)
        );
        compared += 1;
    }
    assert_eq!(compared, scripts.len() * links.len() + 3);
}

#[test]
fn chkconfig_off_on_the_fresh_box() {
    let b = TestBox::fresh();
    let off = b.chk(&["nginx", "off"]);
    assert_eq!(
        (off.stdout.as_str(), off.stderr.as_str(), off.code),
        ("", "", 0)
    );
    // the transcript's `chkconfig --list nginx` after `chkconfig nginx off`
    let steps = chkconfig_steps();
    let want = steps
        .iter()
        .find(|s| s.cmd == "chkconfig --list nginx")
        .unwrap();
    assert_step(&b.chk(&["--list", "nginx"]), want);

    let links = rc_links(&b.root);
    for n in 0..7 {
        assert!(
            links.contains(&format!("rc{n}.d/K15nginx -> ../init.d/nginx")),
            "{links:#?}"
        );
        assert!(!links
            .iter()
            .any(|l| l.starts_with(&format!("rc{n}.d/S85nginx"))));
    }
    for n in 2..6 {
        assert!(links.contains(&format!("rc{n}.d/S20redis -> ../init.d/redis")));
        assert!(links.contains(&format!("rc{n}.d/S98monit -> ../init.d/monit")));
    }
    // query: exit 0 only if on in the current runlevel (3 unless FAKE_RUNLEVEL)
    assert_eq!(b.chk(&["nginx"]).code, 1);
    assert_eq!(b.chk(&["redis"]).code, 0);
    assert_eq!(
        b.fake_run("chkconfig", &["redis"], &[("FAKE_RUNLEVEL", "1")])
            .code,
        1
    );
    assert_eq!(b.chk(&["--level", "6", "redis"]).code, 1);
    assert_eq!(b.chk(&["--level", "5", "redis"]).code, 0);
}

#[test]
fn chkconfig_errors_and_usage() {
    let b = TestBox::fresh();
    let steps = chkconfig_steps();
    let step = |cmd: &str| {
        steps
            .iter()
            .find(|s| s.cmd == cmd)
            .unwrap_or_else(|| panic!("{cmd}"))
    };
    b.write(
        "etc/rc.d/init.d/noheader",
        "#!/bin/sh\n# noheader - no chkconfig line here\necho hi\n",
    );
    assert_eq!(b.chk(&["--del", "monit"]).code, 0);

    assert_step(
        &b.chk(&["nosuchsvc", "off"]),
        step("chkconfig nosuchsvc off"),
    );
    assert_step(
        &b.chk(&["--list", "nosuchsvc"]),
        step("chkconfig --list nosuchsvc"),
    );
    assert_step(
        &b.chk(&["--add", "nosuchsvc"]),
        step("chkconfig --add nosuchsvc"),
    );
    assert_step(&b.chk(&["nosuchsvc"]), step("chkconfig nosuchsvc"));
    assert_step(&b.chk(&["noheader", "off"]), step("chkconfig noheader off"));
    assert_step(
        &b.chk(&["--list", "noheader"]),
        step("chkconfig --list noheader"),
    );
    assert_step(&b.chk(&["--list", "monit"]), step("chkconfig --list monit"));
    assert_step(
        &b.chk(&["--level", "35", "redis"]),
        step("chkconfig --level 35 redis"),
    );
    assert_step(
        &b.chk(&["bogusarg", "badverb"]),
        step("chkconfig bogusarg badverb"),
    );
    // a --del'd service is skipped by --list, and comes back with --add (header: all off)
    assert!(!b.chk(&["--list"]).stdout.contains("monit"));
    assert_eq!(b.chk(&["--add", "monit"]).code, 0);
    assert!(rc_links(&b.root).contains(&"rc3.d/K02monit -> ../init.d/monit".to_string()));
}

#[test]
fn chkconfig_without_rc_links_fails() {
    let b = TestBox::fresh();
    fs::remove_file(b.path("etc/rc2.d")).unwrap();
    let out = b.chk(&["--list"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("failed to glob pattern /etc/rc2.d/[SK][0-9][0-9]monit: "),
        "{out:?}"
    );
    let out = b.chk(&["nginx", "off"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out
        .stderr
        .contains("failed to make symlink /etc/rc2.d/K15nginx: No such file or directory\n"));
}

/// Replays the whole chkconfig transcript on a tree built like the one it was recorded on
/// (its scripts' headers differ from the fresh box's: redis and nginx `2345 85 15`,
/// monit `2345 99 01`, memcached `- 55 45`, and a script without a chkconfig line).
#[test]
fn chkconfig_replays_the_transcript() {
    let b = TestBox::empty();
    let root = b.root.as_path();
    fs::create_dir_all(root.join("etc/rc.d/init.d")).unwrap();
    symlink("rc.d/init.d", root.join("etc/init.d")).unwrap();
    for n in 0..7 {
        fs::create_dir_all(root.join(format!("etc/rc.d/rc{n}.d"))).unwrap();
        symlink(format!("rc.d/rc{n}.d"), root.join(format!("etc/rc{n}.d"))).unwrap();
    }
    for (name, header) in [
        ("redis", "2345 85 15"),
        ("nginx", "2345 85 15"),
        ("monit", "2345 99 01"),
        ("memcached", "- 55 45"),
    ] {
        b.write(
            &format!("etc/rc.d/init.d/{name}"),
            &format!(
                "#!/bin/sh\n#\n# {name}\n#\n# chkconfig: {header}\n# description: {name} daemon\n"
            ),
        );
    }
    b.write(
        "etc/rc.d/init.d/noheader",
        "#!/bin/sh\n# description: no chkconfig line\n",
    );

    let mut listed = 0;
    let steps = chkconfig_steps();
    assert!(steps.len() > 25);
    for step in &steps {
        if step.cmd == "chkconfig --list" && listed == 1 {
            // the listing printed just before this point in the transcript
            assert_eq!(rc_links(root), chkconfig_link_listing("before"));
        }
        let (env, cmd): (&[(&str, &str)], &str) = match step.cmd.strip_prefix("(runlevel 1) ") {
            Some(c) => (&[("FAKE_RUNLEVEL", "1")], c),
            None => (&[], step.cmd.as_str()),
        };
        let args: Vec<&str> = cmd.split_whitespace().collect();
        assert_eq!(args[0], "chkconfig");
        assert_step(&b.fake_run("chkconfig", &args[1..], env), step);
        if step.cmd == "chkconfig --list" {
            listed += 1;
        }
        if step.cmd == "chkconfig nginx off" {
            assert_eq!(rc_links(root), chkconfig_link_listing("after"));
        }
    }
}

// ------------------------------------------------------------------ initctl

/// Job files shown with `cat` in the upstart transcript, written into the box verbatim.
fn transcript_job(b: &TestBox, name: &str) {
    let text = upstart_step(&format!("cat /etc/init/{name}.conf"), 0).stdout;
    b.write(&format!("etc/init/{name}.conf"), &text);
}

fn fresh_job_names(b: &TestBox) -> BTreeSet<String> {
    fs::read_dir(b.path("etc/init"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".conf")
                .map(String::from)
        })
        .collect()
}

#[test]
fn initctl_versions_and_fresh_list() {
    let b = TestBox::fresh();
    assert_step(
        &b.ictl(&["--version"]),
        &upstart_step("initctl --version", 0),
    );
    assert_step(&b.ictl(&["version"]), &upstart_step("initctl version", 0));

    let out = b.ictl(&["list"]);
    assert_eq!((out.stderr.as_str(), out.code), ("", 0));
    let names: BTreeSet<String> = out
        .stdout
        .lines()
        .map(|l| {
            l.strip_suffix(" stop/waiting")
                .unwrap_or_else(|| panic!("{l}"))
                .to_string()
        })
        .collect();
    // every stock job of the fresh box loads (they are all valid 0.6.5 jobs)
    assert_eq!(names, fresh_job_names(&b));
    assert_eq!(names.len(), out.stdout.lines().count());
    let mut sorted: Vec<&str> = out.stdout.lines().collect();
    sorted.sort();
    assert_ne!(
        sorted,
        out.stdout.lines().collect::<Vec<_>>(),
        "the real list is unsorted"
    );
}

#[test]
fn initctl_start_status_stop() {
    let b = TestBox::fresh();
    transcript_job(&b, "redis");

    assert_step(
        &b.fake_run("status", &["redis"], &[]),
        &upstart_step("status redis", 0),
    );
    let start = b.ictl(&["start", "redis"]);
    assert_step_pids(&start, &upstart_step("initctl start redis", 0));
    let pid = pid_of(&start.stdout);
    assert!(is_alive(pid));
    assert_eq!(b.ictl(&["status", "redis"]).stdout, start.stdout);
    assert!(b
        .ictl(&["list"])
        .stdout
        .lines()
        .any(|l| format!("{l}\n") == start.stdout));
    assert_eq!(
        fs::read_to_string(b.path("var/lib/fake-upstart/redis.state")).unwrap(),
        format!("start/running {pid}\n")
    );

    // already running (the transcript's second `initctl start redis`)
    assert_step(
        &b.ictl(&["start", "redis"]),
        &upstart_step("initctl start redis", 1),
    );
    let again = b.fake_run("start", &["redis"], &[]);
    assert_eq!(
        (again.stderr.as_str(), again.code),
        ("start: Job is already running: redis\n", 1)
    );

    // restart: a new process
    let restart = b.ictl(&["restart", "redis"]);
    assert_step_pids(&restart, &upstart_step("initctl restart redis", 0));
    assert!(wait_dead(pid));
    let pid2 = pid_of(&restart.stdout);
    assert_ne!(pid, pid2);

    assert_step(
        &b.ictl(&["stop", "redis"]),
        &upstart_step("initctl stop redis", 0),
    );
    assert!(wait_dead(pid2));
    // stopping a stopped job: "Unknown instance: " with its trailing space
    assert_step(
        &b.ictl(&["stop", "redis"]),
        &upstart_step("initctl stop redis", 1),
    );
    assert_step(
        &b.ictl(&["start", "nosuchjob"]),
        &upstart_step("initctl start nosuchjob", 0),
    );
    assert_step(
        &b.ictl(&["status", "nosuchjob"]),
        &upstart_step("initctl status nosuchjob", 0),
    );
    let s = b.fake_run("stop", &["redis"], &[]);
    assert_eq!(
        (s.stderr.as_str(), s.code),
        ("stop: Unknown instance: \n", 1)
    );
}

#[test]
fn initctl_chained_start_and_stop() {
    let b = TestBox::fresh();
    b.write("etc/init/a.conf", "description \"a\"\nexec sleep 1000\n");
    b.write(
        "etc/init/b.conf",
        "start on started a\nstop on stopping a\nrespawn\nexec sleep 1000\n",
    );
    b.write(
        "etc/init/c.conf",
        "start on (started b and runlevel [2345])\nexec sleep 1000\n",
    );

    let out = b.ictl(&["start", "a"]);
    // only the requested job is printed
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    assert!(out.stdout.starts_with("a start/running, process "));
    let pa = pid_of(&out.stdout);
    let sb = b.ictl(&["status", "b"]).stdout;
    assert!(sb.starts_with("b start/running, process "), "{sb}");
    let pb = pid_of(&sb);
    let sc = b.ictl(&["status", "c"]).stdout;
    assert!(sc.starts_with("c start/running, process "), "{sc}");
    let pc = pid_of(&sc);
    assert!(is_alive(pa) && is_alive(pb) && is_alive(pc));

    assert_eq!(b.ictl(&["stop", "a"]).stdout, "a stop/waiting\n");
    assert_eq!(b.ictl(&["status", "b"]).stdout, "b stop/waiting\n");
    assert!(wait_dead(pa) && wait_dead(pb));
    // c has no `stop on stopping ...`: still running
    assert_eq!(b.ictl(&["status", "c"]).stdout, sc);
    assert_eq!(b.ictl(&["stop", "c"]).stdout, "c stop/waiting\n");
    assert!(wait_dead(pc));
}

#[test]
fn initctl_instances() {
    let b = TestBox::fresh();
    let out = b.ictl(&["start", "tty", "TTY=/dev/tty3"]);
    assert_step_pids(&out, &upstart_step("initctl start tty TTY=/dev/tty3", 0));
    assert_step(
        &b.ictl(&["status", "tty"]),
        &upstart_step("initctl status tty", 0),
    );
    // a seeded instance, reported verbatim
    b.write(
        "var/lib/fake-upstart/tty@%2Fdev%2Ftty1.state",
        "start/running 52\n",
    );
    assert_step(
        &b.ictl(&["status", "tty", "TTY=/dev/tty1"]),
        &upstart_step("initctl status tty TTY=/dev/tty1", 0),
    );
    let list = b.ictl(&["list"]).stdout;
    assert!(list.contains(&format!(
        "tty (/dev/tty3) start/running, process {}\n",
        pid_of(&out.stdout)
    )));
    assert!(list.contains("tty (/dev/tty1) start/running, process 52\n"));
    assert!(!list.lines().any(|l| l.starts_with("tty stop/waiting")));
    assert_step(
        &b.ictl(&["stop", "tty", "TTY=/dev/tty3"]),
        &upstart_step("initctl stop tty TTY=/dev/tty3", 0),
    );
    assert!(wait_dead(pid_of(&out.stdout)));
    // transient states with a further process, as seeded by a test
    b.write(
        "etc/init/slow-poststart.conf",
        "exec sleep 100000\npost-start exec sleep 30\n",
    );
    b.write(
        "var/lib/fake-upstart/slow-poststart.state",
        "start/post-start 131\npost-start 132\n",
    );
    assert_step(
        &b.ictl(&["status", "slow-poststart"]),
        &upstart_step("initctl status slow-poststart", 0),
    );
}

#[test]
fn initctl_broken_jobs_are_not_loaded() {
    let b = TestBox::fresh();
    transcript_job(&b, "broken");
    b.write("etc/init/blot.conf", "description \"blot\"\nstart on started redis\nsetuid ec2-user\nexec /usr/bin/node app.js\n");
    b.write("etc/init/logjob.conf", "console log\nexec sleep 1\n");
    b.write("etc/init/manual.conf", "manual\nexec sleep 1\n");
    b.write("etc/init/killsig.conf", "kill signal INT\nexec sleep 1\n");
    b.write("etc/init/fine.conf", "# ok\nkill timeout 3\nconsole output\nlimit nofile 4096 unlimited\nscript\n  exec sleep 1\nend script\n");

    let list = b.ictl(&["list"]).stdout;
    for bad in ["broken", "blot", "logjob", "manual", "killsig"] {
        assert!(
            !list.lines().any(|l| l.starts_with(&format!("{bad} "))),
            "{bad} listed:\n{list}"
        );
    }
    assert!(list.contains("fine stop/waiting\n"));
    assert_step(
        &b.ictl(&["start", "broken"]),
        &upstart_step("initctl start broken", 0),
    );
    let s = b.ictl(&["start", "blot"]);
    assert_eq!(
        (s.stdout.as_str(), s.stderr.as_str(), s.code),
        ("", "initctl: Unknown job: blot\n", 1)
    );

    // reload-configuration: silent, exit 0; the reason only reaches the "console"
    assert_step(
        &b.ictl(&["reload-configuration"]),
        &upstart_step("initctl reload-configuration", 0),
    );
    let console = fs::read_to_string(b.path("var/lib/fake-upstart/console.log")).unwrap();
    let transcript = upstart_transcript();
    let broken_line = "init: /etc/init/broken.conf:4: Unknown stanza";
    assert!(transcript.contains(&format!("{broken_line}$")));
    assert!(console.lines().any(|l| l == broken_line), "{console}");
    assert!(
        console
            .lines()
            .any(|l| l == "init: /etc/init/blot.conf:3: Unknown stanza"),
        "{console}"
    );

    // files are re-read on every call: fixing the job makes it appear
    b.write("etc/init/blot.conf", "description \"blot\"\nstart on started redis\nexec sudo -u ec2-user /usr/bin/node app.js\n");
    assert!(b.ictl(&["list"]).stdout.contains("blot stop/waiting\n"));
}

#[test]
fn initctl_without_the_bus() {
    let b = TestBox::fresh();
    let want = upstart_step(
        "setpriv --reuid=65534 --regid=65534 --clear-groups initctl list",
        0,
    );
    assert_step(
        &b.fake_run("initctl", &["list"], &[("FAKE_INITCTL_NO_BUS", "1")]),
        &want,
    );
    let out = b.fake_run("start", &["tty"], &[("FAKE_INITCTL_NO_BUS", "1")]);
    assert_eq!(out.stderr, want.stderr.replacen("initctl:", "start:", 1));
    assert_eq!(out.code, 1);
}

#[test]
fn initctl_reports_a_dead_pid_verbatim() {
    let b = TestBox::fresh();
    transcript_job(&b, "redis");
    let start = b.ictl(&["start", "redis"]);
    let pid = pid_of(&start.stdout);
    kill(pid);
    assert!(wait_dead(pid));
    // upstart's stuck case: the state still names the vanished process
    assert_eq!(
        b.ictl(&["status", "redis"]).stdout,
        format!("redis start/running, process {pid}\n")
    );
    assert_eq!(b.ictl(&["stop", "redis"]).stdout, "redis stop/waiting\n");
}

#[test]
fn initctl_exec_hook_runs_the_real_thing() {
    let b = TestBox::fresh();
    b.write(
        "etc/init/hooked.conf",
        "env GREETING=hello\nexec /bin/false\n",
    );
    let marker = b.path("hook.out");
    b.write(
        "var/lib/fake-upstart/exec/hooked",
        &format!(
            "echo \"$UPSTART_JOB $GREETING $EXTRA\" > {}; exec sleep 1000\n",
            marker.display()
        ),
    );
    let out = b.ictl(&["start", "hooked", "EXTRA=x"]);
    assert_eq!(out.code, 0, "{out:?}");
    let pid = pid_of(&out.stdout);
    let t = Instant::now();
    while !marker.exists() && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(fs::read_to_string(&marker).unwrap(), "hooked hello x\n");
    assert!(b.own_processes().contains(&pid));
    assert_eq!(b.ictl(&["stop", "hooked"]).stdout, "hooked stop/waiting\n");
    assert!(wait_dead(pid));
}

/// FAKE_UPSTART_RUN_JOBS: without a hook, `start` runs the job's own processes as
/// upstart 0.6.5 does (here on this machine's paths: "host"; the live test uses "chroot"):
/// upstart's environment, not the caller's; `chdir`; pre-start before the main process,
/// post-stop after it was killed; and `expect fork` tracks the child the main process
/// leaves behind, not the main process.
#[test]
fn initctl_runs_a_jobs_own_processes() {
    let b = TestBox::fresh();
    let log = b.path("job.log");
    let work = b.path("work");
    fs::create_dir_all(&work).unwrap();
    b.write(
        "etc/init/own.conf",
        &format!(
            "env GREETING=hello\nchdir /work\n\
             pre-start exec /bin/sh -c 'echo pre >> {log}'\n\
             script\n    echo \"$UPSTART_JOB $GREETING $(pwd) $PATH ${{CALLER:-unset}}\" >> {log}\n    exec sleep 1000\nend script\n\
             post-stop exec /bin/sh -c 'echo post >> {log}'\n",
            log = log.display()
        ),
    );
    let run = [("FAKE_UPSTART_RUN_JOBS", "host"), ("CALLER", "x")];
    let out = b.fake_run("initctl", &["start", "own"], &run);
    assert_eq!(out.code, 0, "{out:?}");
    let pid = pid_of(&out.stdout);
    let t = Instant::now();
    while fs::read_to_string(&log).unwrap_or_default().lines().count() < 2
        && t.elapsed() < Duration::from_secs(3)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        format!(
            "pre\nown hello {} /usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin unset\n",
            work.display()
        )
    );
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep", "the script's shell exec'd sleep");
    let out = b.fake_run("initctl", &["stop", "own"], &run);
    assert_eq!(out.stdout, "own stop/waiting\n", "{out:?}");
    assert!(wait_dead(pid));
    assert!(fs::read_to_string(&log).unwrap().ends_with("post\n"));

    // `expect fork`: the main process forks once and exits; the child is what is tracked.
    b.write(
        "etc/init/forks.conf",
        "expect fork\nexec /bin/sh -c 'sleep 1000 & exit 0'\n",
    );
    let out = b.fake_run("initctl", &["start", "forks"], &run);
    assert_eq!(out.code, 0, "{out:?}");
    let daemon = pid_of(&out.stdout);
    assert!(is_alive(daemon), "{out:?}");
    let comm = fs::read_to_string(format!("/proc/{daemon}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep", "the forked child, not the shell");
    let out = b.fake_run("initctl", &["stop", "forks"], &run);
    assert_eq!(out.stdout, "forks stop/waiting\n", "{out:?}");
    assert!(wait_dead(daemon));
}

#[test]
fn initctl_tasks_and_events() {
    let b = TestBox::fresh();
    // a task runs to completion inside `start`, which then reports it stopped
    b.write("etc/init/oneshot.conf", "task\nexec /bin/true\n");
    assert_step(
        &b.fake_run("start", &["oneshot"], &[]),
        &upstart_step("start oneshot", 0),
    );

    // `runlevel RUNLEVEL=3` (what telinit 3 emits) starts `start on runlevel [2345]` jobs
    transcript_job(&b, "redis");
    b.write(
        "etc/init/blot.conf",
        "start on started redis\nstop on stopping redis\nexec sleep 1000\n",
    );
    assert_step(
        &b.ictl(&["emit", "--no-wait", "my-event", "FOO=bar"]),
        &upstart_step("initctl emit --no-wait my-event FOO=bar", 0),
    );
    assert_eq!(b.ictl(&["status", "redis"]).stdout, "redis stop/waiting\n");
    let e = b.ictl(&["emit", "runlevel", "RUNLEVEL=3", "PREVLEVEL=N"]);
    assert_eq!((e.stdout.as_str(), e.stderr.as_str(), e.code), ("", "", 0));
    let redis = b.ictl(&["status", "redis"]);
    assert_step_pids(&redis, &upstart_step("initctl status redis", 1));
    assert!(b
        .ictl(&["status", "blot"])
        .stdout
        .starts_with("blot start/running, process "));
    // `stop on runlevel [016]`
    b.ictl(&["emit", "runlevel", "RUNLEVEL=0", "PREVLEVEL=3"]);
    assert_eq!(b.ictl(&["status", "redis"]).stdout, "redis stop/waiting\n");
    assert_eq!(b.ictl(&["status", "blot"]).stdout, "blot stop/waiting\n");
    assert!(wait_dead(pid_of(&redis.stdout)));
}
