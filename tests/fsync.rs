//! SIGKILL cannot reveal a missing fsync; strace can. One provision run is traced and the
//! write of /etc/sudoers must be: exclusive temp file in /etc, write, owner, mode, fsync,
//! rename over /etc/sudoers, fsync of /etc.

mod common;
use common::*;

#[test]
fn sudoers_write_sequence_under_strace() {
    if !require("visudo") || !require("strace") {
        return;
    }
    let b = TestBox::fresh();
    let trace = b.root.parent().unwrap().join("strace.txt");
    let out = std::process::Command::new("strace")
        .arg("-o")
        .arg(&trace)
        .args([
            "-e",
            "trace=openat,write,fchown,fchmod,fsync,rename,renameat,renameat2,close",
        ])
        .arg(assert_cmd::cargo::cargo_bin("blotctl"))
        .arg("--root")
        .arg(&b.root)
        .args(["provision", "--yes", "--no-start"])
        .env("PATH", fake_path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&trace).unwrap();
    let etc = b.path("/etc").display().to_string();
    let lines: Vec<&str> = text.lines().collect();
    let open_at = lines
        .iter()
        .position(|l| l.contains(&format!("\"{etc}/.blotctl-")) && l.contains("O_CREAT|O_EXCL"))
        .expect("no exclusive temp file created in /etc");
    let fd = lines[open_at]
        .rsplit("= ")
        .next()
        .unwrap()
        .trim()
        .to_string();
    let tmp = lines[open_at].split('"').nth(1).unwrap().to_string();
    assert!(tmp.ends_with('~'), "{tmp}");
    // The calls on that fd, in order, up to the rename of the temp file over sudoers.
    let rename_at = lines
        .iter()
        .position(|l| {
            l.contains("rename") && l.contains(&tmp) && l.contains(&format!("\"{etc}/sudoers\""))
        })
        .expect("the temp file was not renamed over /etc/sudoers");
    let calls: Vec<&str> = lines[open_at + 1..rename_at]
        .iter()
        .filter(|l| l.contains(&format!("({fd},")) || l.contains(&format!("({fd})")))
        .map(|l| l.split('(').next().unwrap())
        .collect();
    let order: Vec<&str> = calls
        .iter()
        .map(|c| c.rsplit(' ').next().unwrap())
        .collect();
    let pos = |name: &str| {
        order
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("no {name} in {order:?}"))
    };
    assert!(pos("write") < pos("fchown"), "{order:?}");
    assert!(
        pos("fchown") < pos("fsync") && pos("fchmod") < pos("fsync"),
        "{order:?}"
    );
    assert!(
        lines[rename_at..]
            .iter()
            .take(6)
            .any(|l| l.contains(&format!("openat(AT_FDCWD, \"{etc}\", O_RDONLY"))),
        "no directory open after the rename"
    );
    let dir_fsync = lines[rename_at..]
        .iter()
        .take(8)
        .any(|l| l.contains("fsync("));
    assert!(dir_fsync, "the directory was not fsynced after the rename");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("fchmod") && l.contains("0440")),
        "sudoers mode 0440 not set on the temp file"
    );
}
