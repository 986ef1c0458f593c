//! SIGKILL cannot reveal a missing fsync; strace can. One provision run is traced and the
//! write of /etc/sudoers must be: /etc reached from the root's handle without following
//! links, exclusive temp file in that held directory, write, owner, mode, fsync, renameat
//! over sudoers within it, fsync of it.

use crate::util::*;

#[test]
fn sudoers_write_sequence_under_strace() {
    needs!("visudo", "strace");
    let b = TestBox::fresh();
    let trace = b.root.parent().unwrap().join("strace.txt");
    std::process::Command::new("strace")
        .arg("-y")
        .arg("-o")
        .arg(&trace)
        .args([
            "-e",
            "trace=openat,write,fchown,fchmod,fsync,rename,renameat,renameat2,close",
        ])
        .arg(blotctl_bin())
        .arg("--root")
        .arg(&b.root)
        .args(["provision", "--yes", "--no-start"])
        .env("PATH", fake_path())
        .run()
        .success();
    let text = std::fs::read_to_string(&trace).unwrap();
    let root = b.root.display().to_string();
    let etc = b.path("/etc").display().to_string();
    let lines: Vec<&str> = text.lines().collect();
    // `strace -y` prints each fd with its path: `4</box/etc>`.
    let fd_of = |l: &str| -> String {
        let ret = l.rsplit("= ").next().unwrap().trim();
        ret.split('<').next().unwrap().to_string()
    };
    // /etc is reached from the root's handle, one component, no link followed.
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("<{root}>, \"etc\""))
                && l.contains("O_NOFOLLOW")
                && l.contains("O_DIRECTORY")),
        "/etc was not opened relative to the root's handle with O_NOFOLLOW"
    );
    let open_at = lines
        .iter()
        .position(|l| {
            l.contains(&format!("<{etc}>, \".blotctl-"))
                && l.contains("O_CREAT|O_EXCL")
                && l.contains("O_NOFOLLOW")
        })
        .expect("no exclusive temp file created in the held /etc directory");
    let fd = fd_of(lines[open_at]);
    let dir_fd = lines[open_at]
        .split('(')
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let tmp = lines[open_at].split('"').nth(1).unwrap().to_string();
    assert!(tmp.starts_with(".blotctl-") && tmp.ends_with('~'), "{tmp}");
    // The calls on that fd, in order, up to the rename of the temp file over sudoers,
    // within the same held directory.
    let held = format!("{dir_fd}<{etc}>");
    let rename_at = lines
        .iter()
        .position(|l| {
            l.contains("renameat")
                && l.contains(&format!("({held}, \"{tmp}\", {held}, \"sudoers\")"))
        })
        .expect("the temp file was not renamed over sudoers within the held directory");
    let calls: Vec<&str> = lines[open_at + 1..rename_at]
        .iter()
        .filter(|l| l.contains(&format!("({fd}<")))
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
    let dir_fsync = lines[rename_at..]
        .iter()
        .take(3)
        .any(|l| l.contains(&format!("fsync({held})")));
    assert!(
        dir_fsync,
        "the held directory was not fsynced after the rename"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("fchmod({fd}<")) && l.contains("0440")),
        "sudoers mode 0440 not set on the temp file"
    );
}
