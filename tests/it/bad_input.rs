//! Bad input: every case either gets the correct edit, or a clear error with the tree
//! left exactly as it was.

use crate::util::*;
use std::os::unix::fs::PermissionsExt;

/// What a case expects.
enum Expect {
    /// `provision --yes` fails, stderr contains this, and nothing managed changed.
    Error(&'static str),
    /// `provision --yes` succeeds and this check holds on the result.
    Edit(fn(&TestBox)),
}

struct Case {
    name: &'static str,
    setup: fn(&TestBox),
    expect: Expect,
}

fn sudoers(b: &TestBox) -> String {
    b.read("/etc/sudoers")
}
fn set_sudoers(b: &TestBox, text: &str) {
    b.write("/etc/sudoers", text);
}
/// The stock sudoers with its requiretty line replaced by `line`.
fn stock_with(b: &TestBox, line: &str) {
    let s = sudoers(b).replace("Defaults    requiretty\n", line);
    set_sudoers(b, &s);
}
fn config(b: &TestBox, extra: &str) {
    b.write(
        "/etc/blotctl.toml",
        &format!("start_settle_ms = 0\nstart_wait_healthy = false\nstart_timeout = 5\n{extra}"),
    );
}
fn no_active_requiretty(b: &TestBox) {
    let s = sudoers(b);
    assert!(
        !s.lines().any(|l| {
            let t = l.trim_start();
            t.starts_with("Defaults")
                && !t.starts_with("Defaults:")
                && t.split([' ', '\t', ',']).any(|w| w == "requiretty")
        }),
        "{s}"
    );
}
/// A program on PATH (before the fakes) printing `out` and exiting 0.
fn garbage_tool(b: &TestBox, name: &str, out: &str) {
    let dir = b.path("/tmp-bin");
    std::fs::create_dir_all(&dir).unwrap();
    write_program(&dir.join(name), &format!("#!/bin/sh\nprintf '{out}'\n"));
}

fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        // ---- sudoers
        Case {
            name: "sudoers: tab after Defaults",
            setup: |b| stock_with(b, "Defaults\trequiretty\n"),
            expect: Edit(|b| {
                assert!(sudoers(b).contains("#Defaults\trequiretty\n"));
                no_active_requiretty(b)
            }),
        },
        Case {
            name: "sudoers: CRLF line endings",
            setup: |b| {
                let s = sudoers(b).replace('\n', "\r\n");
                set_sudoers(b, &s)
            },
            expect: Edit(|b| {
                let s = sudoers(b);
                assert!(s.contains("#Defaults    requiretty\r\n"));
                assert!(!s.replace("\r\n", "").contains('\n'))
            }),
        },
        Case {
            name: "sudoers: no final newline",
            setup: |b| {
                let s = sudoers(b) + "Defaults:root requiretty";
                set_sudoers(b, &s)
            },
            expect: Edit(|b| assert!(sudoers(b).ends_with("\n#Defaults:root requiretty"))),
        },
        Case {
            name: "sudoers: Defaults:user requiretty is not root's",
            setup: |b| stock_with(b, "Defaults:bob requiretty\n"),
            expect: Edit(|b| assert!(sudoers(b).contains("\nDefaults:bob requiretty\n"))),
        },
        Case {
            name: "sudoers: !requiretty stays",
            setup: |b| stock_with(b, "Defaults !requiretty\n"),
            expect: Edit(|b| assert!(sudoers(b).contains("\nDefaults !requiretty\n"))),
        },
        Case {
            name: "sudoers: requiretty among other options",
            setup: |b| stock_with(b, "Defaults env_reset, requiretty, !visiblepw\n"),
            expect: Edit(|b| assert!(sudoers(b).contains("\nDefaults env_reset, !visiblepw\n"))),
        },
        Case {
            name: "sudoers: requiretty first of several",
            setup: |b| stock_with(b, "Defaults requiretty,always_set_home\n"),
            expect: Edit(|b| assert!(sudoers(b).contains("\nDefaults always_set_home\n"))),
        },
        Case {
            name: "sudoers: already commented",
            setup: |b| stock_with(b, "# Defaults    requiretty\n"),
            expect: Edit(|b| assert!(sudoers(b).contains("\n# Defaults    requiretty\n"))),
        },
        Case {
            name: "sudoers: Defaults:root",
            setup: |b| stock_with(b, "Defaults:root requiretty\n"),
            expect: Edit(|b| assert!(sudoers(b).contains("\n#Defaults:root requiretty\n"))),
        },
        Case {
            name: "sudoers: Defaults:ALL",
            setup: |b| stock_with(b, "Defaults:ALL    requiretty\n"),
            expect: Edit(no_active_requiretty),
        },
        Case {
            name: "sudoers: RHEL 6.8 form without requiretty",
            setup: |b| stock_with(b, ""),
            expect: Edit(|b| assert!(!sudoers(b).contains("requiretty\n"))),
        },
        Case {
            name: "sudoers: #include of a file with requiretty",
            setup: |b| {
                let s = sudoers(b).replace("Defaults    requiretty\n", "")
                    + "#include /etc/sudoers.local\n";
                set_sudoers(b, &s);
                b.write("/etc/sudoers.local", "Defaults requiretty\n");
            },
            expect: Error("/etc/sudoers.local line 1 (included from /etc/sudoers line"),
        },
        Case {
            name: "sudoers: #includedir file with requiretty",
            setup: |b| b.write("/etc/sudoers.d/tty", "Defaults requiretty\n"),
            expect: Error("/etc/sudoers.d/tty line 1 (included from /etc/sudoers line"),
        },
        Case {
            name: "sudoers: includedir skips names with a dot",
            setup: |b| b.write("/etc/sudoers.d/tty.rpmsave", "Defaults requiretty\n"),
            expect: Edit(no_active_requiretty),
        },
        Case {
            name: "sudoers: a file visudo rejects",
            setup: |b| {
                let s = sudoers(b) + "root ALL=(ALL ALL\n";
                set_sudoers(b, &s)
            },
            expect: Error("visudo rejects /etc/sudoers"),
        },
        Case {
            name: "sudoers: continued Defaults line",
            setup: |b| stock_with(b, "Defaults env_reset, \\\n    requiretty\n"),
            expect: Error("continued (backslash) Defaults line"),
        },
        Case {
            name: "sudoers: missing",
            setup: |b| std::fs::remove_file(b.path("/etc/sudoers")).unwrap(),
            expect: Error("/etc/sudoers does not exist"),
        },
        Case {
            name: "sudoers: a symlink",
            setup: |b| {
                std::fs::rename(b.path("/etc/sudoers"), b.path("/etc/sudoers.real")).unwrap();
                std::os::unix::fs::symlink("sudoers.real", b.path("/etc/sudoers")).unwrap();
            },
            expect: Error("/etc/sudoers is a symlink"),
        },
        Case {
            name: "sudoers: wrong mode only",
            setup: |b| {
                std::fs::set_permissions(
                    b.path("/etc/sudoers"),
                    std::fs::Permissions::from_mode(0o640),
                )
                .unwrap()
            },
            expect: Edit(|b| assert_eq!(b.mode("/etc/sudoers"), 0o440)),
        },
        Case {
            name: "sudoers: immutable",
            setup: |b| immutable(b, "/etc/sudoers"),
            expect: Error("/etc/sudoers is immutable or append-only"),
        },
        // ---- hosts: localhost must resolve to 127.0.0.1; site names only when asked
        Case {
            name: "hosts: missing",
            setup: |b| std::fs::remove_file(b.path("/etc/hosts")).unwrap(),
            expect: Edit(|b| {
                assert_eq!(b.read("/etc/hosts"), "127.0.0.1   localhost\n");
                assert_eq!(b.mode("/etc/hosts"), 0o644)
            }),
        },
        Case {
            name: "hosts: empty",
            setup: |b| b.write("/etc/hosts", ""),
            expect: Edit(|b| assert_eq!(b.read("/etc/hosts"), "127.0.0.1   localhost\n")),
        },
        Case {
            name: "hosts: localhost lost, IPv6 line kept",
            setup: |b| b.write("/etc/hosts", "::1 localhost localhost6"),
            expect: Edit(|b| {
                assert_eq!(
                    b.read("/etc/hosts"),
                    "::1 localhost localhost6\n127.0.0.1   localhost\n"
                )
            }),
        },
        Case {
            name: "hosts: no final newline, localhost there: left alone",
            setup: |b| b.write("/etc/hosts", "127.0.0.1 localhost"),
            expect: Edit(|b| assert_eq!(b.read("/etc/hosts"), "127.0.0.1 localhost")),
        },
        Case {
            name: "hosts: the old rule's site line is kept",
            setup: |b| {
                let h = b.read("/etc/hosts") + "127.0.0.1   blot.im www.blot.im\n";
                b.write("/etc/hosts", &h)
            },
            expect: Edit(|b| assert!(b.read("/etc/hosts").ends_with("\n127.0.0.1   blot.im www.blot.im\n"))),
        },
        Case {
            name: "hosts: localhost mapped to another address",
            setup: |b| b.write("/etc/hosts", "10.0.0.5 localhost\n"),
            expect: Error("/etc/hosts maps localhost to 10.0.0.5, not 127.0.0.1"),
        },
        Case {
            name: "hosts: sites asked for are added once",
            setup: |b| {
                config(b, "sites = [\"blot.im\", \"www.blot.im\"]\n");
                b.write("/etc/hosts", "127.0.0.1 localhost blot.im\n")
            },
            expect: Edit(|b| {
                assert_eq!(
                    b.read("/etc/hosts"),
                    "127.0.0.1 localhost blot.im\n127.0.0.1   www.blot.im\n"
                )
            }),
        },
        Case {
            name: "hosts: a site mapped to another address",
            setup: |b| {
                config(b, "sites = [\"blot.im\"]\n");
                b.write("/etc/hosts", "127.0.0.1 localhost\n10.0.0.5 blot.im\n")
            },
            expect: Error("/etc/hosts maps blot.im to 10.0.0.5, not 127.0.0.1"),
        },
        Case {
            name: "hosts: IPv6 entry for a site",
            setup: |b| {
                config(b, "sites = [\"blot.im\"]\n");
                b.write("/etc/hosts", "127.0.0.1 localhost\n::1 blot.im\n")
            },
            expect: Edit(|b| {
                assert_eq!(
                    b.read("/etc/hosts"),
                    "127.0.0.1 localhost\n::1 blot.im\n127.0.0.1   blot.im\n"
                )
            }),
        },
        Case {
            name: "hosts: a symlink",
            setup: |b| {
                std::fs::rename(b.path("/etc/hosts"), b.path("/etc/hosts.real")).unwrap();
                std::os::unix::fs::symlink("hosts.real", b.path("/etc/hosts")).unwrap();
            },
            expect: Error("/etc/hosts is a symlink"),
        },
        Case {
            name: "hosts: read-only mode keeps its mode",
            setup: |b| {
                b.write("/etc/hosts", "::1 localhost6\n");
                std::fs::set_permissions(
                    b.path("/etc/hosts"),
                    std::fs::Permissions::from_mode(0o444),
                )
                .unwrap()
            },
            expect: Edit(|b| {
                assert!(b.read("/etc/hosts").contains("127.0.0.1   localhost"));
                assert_eq!(b.mode("/etc/hosts"), 0o444)
            }),
        },
        // ---- jobs, monit, logs
        Case {
            name: "jobs: /etc/init missing",
            setup: |b| std::fs::remove_dir_all(b.path("/etc/init")).unwrap(),
            expect: Error("/etc/init does not exist"),
        },
        Case {
            name: "jobs: a hand-edited job is replaced",
            setup: |b| b.write("/etc/init/blot.conf", "# mine\nexec /bin/true\n"),
            expect: Edit(|b| {
                assert!(b
                    .read("/etc/init/blot.conf")
                    .contains("start on started redis"))
            }),
        },
        Case {
            name: "jobs: read-only job file",
            setup: |b| {
                b.write("/etc/init/nginx.conf", "exec /bin/true\n");
                std::fs::set_permissions(
                    b.path("/etc/init/nginx.conf"),
                    std::fs::Permissions::from_mode(0o444),
                )
                .unwrap();
            },
            expect: Edit(|b| assert_eq!(b.mode("/etc/init/nginx.conf"), 0o644)),
        },
        Case {
            name: "jobs: immutable job file",
            setup: |b| {
                b.write("/etc/init/nginx.conf", "exec /bin/true\n");
                immutable(b, "/etc/init/nginx.conf")
            },
            expect: Error("/etc/init/nginx.conf is immutable"),
        },
        Case {
            name: "jobs: a job file that is a symlink",
            setup: |b| {
                std::os::unix::fs::symlink("/etc/passwd", b.path("/etc/init/blot.conf")).unwrap()
            },
            expect: Error("/etc/init/blot.conf is a symlink"),
        },
        Case {
            name: "monit: control file too open",
            setup: |b| {
                b.write("/etc/monit.rc", &b.render("monit.rc"));
                std::fs::set_permissions(
                    b.path("/etc/monit.rc"),
                    std::fs::Permissions::from_mode(0o644),
                )
                .unwrap();
            },
            expect: Edit(|b| assert_eq!(b.mode("/etc/monit.rc"), 0o700)),
        },
        Case {
            name: "logs: app dir missing",
            setup: |b| std::fs::remove_dir_all(b.path("/var/www/blot")).unwrap(),
            expect: Error("the app directory /var/www/blot does not exist"),
        },
        Case {
            name: "logs: logs is a file",
            setup: |b| b.write("/var/www/blot/logs", "x"),
            expect: Error("/var/www/blot/logs exists but is not a directory"),
        },
        Case {
            name: "logs: existing log keeps contents, gets owner",
            setup: |b| {
                std::fs::create_dir(b.path("/var/www/blot/logs")).unwrap();
                b.write("/var/www/blot/logs/app.log", "old line\n");
            },
            expect: Edit(|b| {
                assert_eq!(b.read("/var/www/blot/logs/app.log"), "old line\n");
                assert_eq!(b.owner("/var/www/blot/logs/app.log"), (500, 500))
            }),
        },
        Case {
            name: "users: missing user",
            setup: |b| {
                let p = b.read("/etc/passwd").replace("ec2-user:", "ec3-user:");
                b.write("/etc/passwd", &p)
            },
            expect: Error("user ec2-user does not exist in /etc/passwd"),
        },
        Case {
            name: "redis: no config in the checkout, none on the box",
            setup: |b| {
                std::fs::remove_file(b.path("/var/www/blot/config/redis.conf")).unwrap();
                std::fs::remove_file(b.path("/etc/redis.conf")).unwrap()
            },
            expect: Error("the redis config /etc/redis.conf does not exist"),
        },
        Case {
            name: "redis: port garbage",
            setup: |b| {
                let p = "/var/www/blot/config/redis.conf";
                let c = b.read(p).replace("port 6379", "port perhaps");
                b.write(p, &c)
            },
            expect: Error("port \"perhaps\" is not a port number"),
        },
        Case {
            name: "nginx: no config in the checkout, none on the box",
            setup: |b| {
                std::fs::remove_file(b.path("/var/www/blot/config/nginx.conf")).unwrap();
                std::fs::remove_file(b.path("/etc/nginx/nginx.conf")).unwrap()
            },
            expect: Error("the nginx config /etc/nginx/nginx.conf does not exist"),
        },
        Case {
            name: "nginx: daemon garbage",
            setup: |b| {
                let p = "/var/www/blot/config/nginx.conf";
                let c = b.read(p);
                b.write(p, &format!("daemon perhaps;\n{c}"))
            },
            expect: Error("line 1: daemon perhaps is neither on nor off"),
        },
        Case {
            name: "nginx: a config nginx -t rejects",
            setup: |b| {
                let p = "/var/www/blot/config/nginx.conf";
                let c = b.read(p).replace("worker_connections 1024;", "worker_connections;");
                b.write(p, &c)
            },
            expect: Error("`nginx -t` rejects /etc/blot/nginx.conf"),
        },
        Case {
            name: "nginx: no pid file for monit",
            setup: |b| {
                let p = "/var/www/blot/config/nginx.conf";
                let c = b.read(p).replace("pid /var/run/nginx.pid;\n", "");
                b.write(p, &c)
            },
            expect: Error("names no `pid` file: monit watches nginx by its pid file"),
        },
        Case {
            name: "nginx: the checkout's config logs into the checkout",
            setup: |b| {
                let p = "/var/www/blot/config/nginx.conf";
                let c = b
                    .read(p)
                    .replace("error_log stderr;", "error_log /var/www/blot/logs/nginx.log;");
                b.write(p, &c)
            },
            expect: Error("opens /var/www/blot/config/nginx.conf line 7's `error_log` /var/www/blot/logs/nginx.log"),
        },
        Case {
            name: "nginx: an include from the checkout outside config/",
            setup: |b| {
                let p = "/var/www/blot/config/nginx.conf";
                let c = b.read(p).replace("include nginx/proxy.conf;", "include ../app/x.conf;");
                b.write(p, &c)
            },
            expect: Error("a checkout file outside config/"),
        },
        Case {
            name: "nginx: the box's config in place, group-writable",
            setup: |b| {
                std::fs::remove_file(b.path("/var/www/blot/config/nginx.conf")).unwrap();
                std::fs::set_permissions(
                    b.path("/etc/nginx/nginx.conf"),
                    std::fs::Permissions::from_mode(0o666),
                )
                .unwrap()
            },
            expect: Error("/etc/nginx/nginx.conf is writable by everyone (mode 0666)"),
        },
        Case {
            name: "nginx: an included checkout file nginx -t rejects",
            setup: |b| b.write("/var/www/blot/config/nginx/proxy.conf", "proxy_read_timeout;\n"),
            expect: Error("`nginx -t` rejects /etc/blot/nginx.conf"),
        },
        // ---- hostile checkout: root reads only a file that can be nothing else
        Case {
            name: "configs: an included checkout file is a symlink to a root-only file",
            setup: |b| {
                let p = b.path("/var/www/blot/config/nginx/proxy.conf");
                std::fs::remove_file(&p).unwrap();
                std::os::unix::fs::symlink("/etc/sudoers", &p).unwrap();
            },
            expect: Error("/var/www/blot/config/nginx/proxy.conf is a symlink"),
        },
        Case {
            name: "configs: the checkout's config directory is a symlink",
            setup: |b| {
                let p = b.path("/var/www/blot/config");
                std::fs::rename(&p, b.path("/var/www/blot/config.real")).unwrap();
                std::os::unix::fs::symlink("config.real", &p).unwrap();
            },
            expect: Error("/var/www/blot/config is a symlink"),
        },
        Case {
            name: "configs: the checkout's redis.conf is a FIFO",
            setup: |b| {
                let p = b.path("/var/www/blot/config/redis.conf");
                std::fs::remove_file(&p).unwrap();
                let st = std::process::Command::new("mkfifo").arg(&p).status().unwrap();
                assert!(st.success());
            },
            expect: Error("/var/www/blot/config/redis.conf is a FIFO"),
        },
        Case {
            name: "configs: the checkout's redis.conf is a hard link to a root-only file",
            setup: |b| {
                let p = b.path("/var/www/blot/config/redis.conf");
                std::fs::remove_file(&p).unwrap();
                std::fs::hard_link(b.path("/etc/sudoers"), &p).unwrap();
            },
            expect: Error("/var/www/blot/config/redis.conf has 2 hard links"),
        },
        Case {
            name: "configs: nginx's master would load a module from the checkout",
            setup: |b| {
                let p = "/var/www/blot/config/nginx.conf";
                let c = b.read(p);
                b.write(p, &format!("load_module /var/www/blot/evil.so;\n{c}"))
            },
            expect: Error("`load_module` /var/www/blot/evil.so, but /var/www/blot belongs to uid 500"),
        },
        Case {
            name: "configs: /etc/blot is a symlink",
            setup: |b| {
                std::fs::create_dir(b.path("/elsewhere")).unwrap();
                std::os::unix::fs::symlink("/elsewhere", b.path("/etc/blot")).unwrap()
            },
            expect: Error("/etc/blot"),
        },
        Case {
            name: "configs: /etc/blot is writable by everyone",
            setup: |b| {
                std::fs::create_dir(b.path("/etc/blot")).unwrap();
                std::fs::set_permissions(b.path("/etc/blot"), std::fs::Permissions::from_mode(0o777))
                    .unwrap()
            },
            expect: Error("/etc/blot is writable by everyone (mode 0777)"),
        },
        Case {
            name: "configs: a copy in /etc/blot belongs to the app user",
            setup: |b| {
                std::fs::create_dir(b.path("/etc/blot")).unwrap();
                b.write("/etc/blot/redis.conf", "port 1\n");
                std::os::unix::fs::chown(b.path("/etc/blot/redis.conf"), Some(500), Some(500))
                    .unwrap()
            },
            expect: Error("/etc/blot/redis.conf belongs to uid 500"),
        },
        // ---- programs the jobs exec: on the box and executable, else nothing changes
        Case {
            name: "programs: nginx missing",
            setup: |b| std::fs::remove_file(b.path("/usr/sbin/nginx")).unwrap(),
            expect: Error("the nginx job would run nginx /usr/sbin/nginx, but /usr/sbin/nginx does not exist on this box"),
        },
        Case {
            name: "programs: redis-server set to a path that is not there",
            setup: |b| config(b, "redis_server = \"/usr/local/bin/redis-server\"\n"),
            expect: Error("the redis job would run redis-server /usr/local/bin/redis-server, but /usr/local/bin/redis-server does not exist"),
        },
        Case {
            name: "programs: monit not executable",
            setup: |b| {
                std::fs::set_permissions(b.path("/usr/bin/monit"), std::fs::Permissions::from_mode(0o644))
                    .unwrap()
            },
            expect: Error("/usr/bin/monit is not executable (mode 0644)"),
        },
        Case {
            name: "programs: monit set to a path that is not there",
            setup: |b| config(b, "monit = \"/usr/local/bin/monit\"\n"),
            expect: Error("the monit job would run monit /usr/local/bin/monit, but /usr/local/bin/monit does not exist"),
        },
        Case {
            name: "logs: root's log directory is a symlink",
            setup: |b| {
                std::fs::create_dir(b.path("/elsewhere")).unwrap();
                std::os::unix::fs::symlink("/elsewhere", b.path("/var/log/blot")).unwrap()
            },
            expect: Error("refusing to manage /var/log/blot: /var/log/blot is a symlink"),
        },
        Case {
            name: "logs: root's log directory belongs to the app user",
            setup: |b| {
                std::fs::create_dir(b.path("/var/log/blot")).unwrap();
                std::os::unix::fs::chown(b.path("/var/log/blot"), Some(500), Some(500)).unwrap()
            },
            expect: Error("refusing to manage /var/log/blot: /var/log/blot belongs to uid 500"),
        },
        Case {
            name: "programs: node set to a path that is not there",
            setup: |b| config(b, "node = \"/usr/bin/node\"\n"),
            expect: Error("the blot job would run node /usr/bin/node, but /usr/bin/node does not exist"),
        },
        Case {
            name: "programs: no nvm node for node = auto",
            setup: |b| std::fs::remove_dir_all(b.path("/home/ec2-user/.nvm")).unwrap(),
            expect: Error("node = \"auto\": ec2-user has no nvm node"),
        },
        Case {
            name: "programs: two nvm nodes for node = auto",
            setup: |b| {
                let d = b.path("/home/ec2-user/.nvm/versions/node/v6.1.0/bin");
                std::fs::create_dir_all(&d).unwrap();
                std::fs::copy(b.path("/home/ec2-user/.nvm/v4.4.2/bin/node"), d.join("node")).unwrap();
            },
            expect: Error("has several nvm nodes"),
        },
        Case {
            name: "programs: /sbin/start links to a missing initctl",
            setup: |b| std::fs::remove_file(b.path("/sbin/initctl")).unwrap(),
            expect: Error("monit's start program /sbin/start, but /sbin/initctl does not exist"),
        },
        Case {
            name: "programs: the nvm node is found through nvm's newer layout",
            setup: |b| {
                let d = b.path("/home/ec2-user/.nvm/versions/node/v4.4.2/bin");
                std::fs::create_dir_all(&d).unwrap();
                std::fs::rename(b.path("/home/ec2-user/.nvm/v4.4.2/bin/node"), d.join("node")).unwrap();
            },
            expect: Edit(|b| {
                assert!(b
                    .read("/etc/init/blot.conf")
                    .contains("exec /home/ec2-user/.nvm/versions/node/v4.4.2/bin/node /var/www/blot/app/index.js'"))
            }),
        },
        // ---- config
        Case {
            name: "config: newline in a value",
            setup: |b| config(b, "user = \"ec2-user\\nroot\"\n"),
            expect: Error("invalid config file /etc/blotctl.toml"),
        },
        Case {
            name: "config: quote in a path",
            setup: |b| config(b, "node = \"/usr/bin/node\\\" --inspect\"\n"),
            expect: Error("is not allowed"),
        },
        Case {
            name: "config: shell metacharacter in app_dir",
            setup: |b| config(b, "app_dir = \"/var/www/blot;reboot\"\n"),
            expect: Error("is not allowed"),
        },
        Case {
            name: "config: unknown key",
            setup: |b| config(b, "nginx_prot = 81\n"),
            expect: Error("unknown key `nginx_prot` (did you mean `nginx_port`?)"),
        },
        Case {
            name: "config: same port twice",
            setup: |b| config(b, "blot_port = 80\n"),
            expect: Error("blot_port and nginx_port are both 80"),
        },
        Case {
            name: "config: bad site name",
            setup: |b| config(b, "sites = [\"blot im\"]\n"),
            expect: Error("\"blot im\" is not a valid host name"),
        },
        Case {
            name: "config: not TOML",
            setup: |b| config(b, "this is = = not toml\n"),
            expect: Error("invalid config file /etc/blotctl.toml"),
        },
        // ---- tools that answer nonsense
        // SysV state is read as chkconfig reads it: its errors are chkconfig's own.
        Case {
            name: "chkconfig: an empty init script",
            setup: |b| b.write("/etc/rc.d/init.d/redis", ""),
            expect: Error(
                "error reading information on service redis: Invalid argument (reading \
                 /etc/init.d/redis as chkconfig does)",
            ),
        },
        Case {
            name: "initctl: unparseable list",
            setup: |b| garbage_tool(b, "initctl", "what is this\\n"),
            expect: Error("cannot understand `initctl list`"),
        },
        Case {
            name: "chkconfig: rc links missing",
            setup: |b| std::fs::remove_file(b.path("/etc/rc3.d")).unwrap(),
            expect: Error("chkconfig"),
        },
        Case {
            name: "disk: full filesystem under /etc",
            setup: |b| fill_disk(b),
            expect: Error("not enough free space for /etc"),
        },
    ]
}

/// What a case's setup did that outlives its temp dir, undone by [`cleanup`] (in reverse).
enum Undo {
    /// `chattr -i PATH`: an immutable file cannot be removed with its temp dir.
    Immutable(std::path::PathBuf),
    /// `umount DIR`: a tmpfs mounted over the box's /etc.
    Mount(std::path::PathBuf),
}

thread_local! {
    static UNDO: std::cell::RefCell<Vec<Undo>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Make a box file immutable (`chattr +i`), to be undone after the case.
fn immutable(b: &TestBox, path: &str) {
    let p = b.path(path);
    let ok = std::process::Command::new("chattr")
        .arg("+i")
        .arg(&p)
        .status()
        .map(|s| s.success());
    assert_eq!(ok.ok(), Some(true), "chattr +i failed here");
    UNDO.with(|u| u.borrow_mut().push(Undo::Immutable(p)));
}

/// Put the box's /etc on a small tmpfs that is almost full.
fn fill_disk(b: &TestBox) {
    let etc = b.path("/etc");
    let saved = b.root.join("etc.saved");
    std::fs::rename(&etc, &saved).unwrap();
    std::fs::create_dir(&etc).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&etc)
        .status()
        .unwrap();
    assert!(st.success(), "cannot mount a tmpfs");
    UNDO.with(|u| u.borrow_mut().push(Undo::Mount(etc.clone())));
    let cp = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cp -a {0}/. {1}/ && avail=$(df -k --output=avail {1} | tail -1) && \
             dd if=/dev/zero of={1}/filler bs=1k count=$((avail - 16)) status=none",
            saved.display(),
            etc.display()
        ))
        .status()
        .unwrap();
    assert!(cp.success());
}

/// Undo what this case's setup did that outlives the temp dir, and nothing else (each
/// undo must succeed: a leftover immutable file or mount would outlive the test).
fn cleanup() {
    for undo in UNDO
        .with(|u| std::mem::take(&mut *u.borrow_mut()))
        .into_iter()
        .rev()
    {
        let (program, flag, path) = match &undo {
            Undo::Immutable(p) => ("chattr", Some("-i"), p),
            Undo::Mount(p) => ("umount", None, p),
        };
        let st = std::process::Command::new(program)
            .args(flag)
            .arg(path)
            .status()
            .unwrap();
        assert!(st.success(), "{program} {} failed", path.display());
    }
}

#[test]
fn bad_input_suite() {
    needs!("visudo", "chattr", "nginx");
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let b = TestBox::fresh();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (case.setup)(&b);
            let before = b.managed_state();
            let mut cmd = b.blotctl();
            cmd.env(
                "PATH",
                format!("{}:{}", b.path("/tmp-bin").display(), fake_path()),
            );
            let out = cmd.args(["provision", "--yes", "--no-start"]).run();
            match &case.expect {
                Expect::Error(msg) => {
                    out.code(1).has(msg);
                    assert_same_state(
                        &before,
                        &b.managed_state(),
                        "the tree changed although the run failed",
                    );
                }
                Expect::Edit(check) => {
                    out.success();
                    check(&b);
                    b.run(&["provision", "--dry-run", "--no-start"])
                        .about("not idempotent: the dry run after it")
                        .success();
                }
            }
        }));
        cleanup();
        if let Err(e) = result {
            failures.push(format!("[{}] {}", case.name, panic_text(&*e)));
        }
    }
    assert_all_cases_passed(&failures, cases.len());
}
