//! Blot's own configs: nginx and redis run root-owned copies (in /etc/blot) of the
//! checkout's config/nginx.conf (and what it includes) and config/redis.conf; the box's
//! own configs only when the checkout has none. The checkout belongs to the app user, so an
//! edit there changes nothing that root runs until an operator provisions (or deploys),
//! and then only after it was shown and validated. (Hostile checkouts — links, FIFOs, hard
//! links, files root would open in the checkout — are bad-input cases: tests/bad_input.rs.)

mod common;
use common::*;

const NGINX_CONF: &str = "/var/www/blot/config/nginx.conf";

/// Everything outside the app user's checkout (what root reads and runs), minus blotctl's
/// and the fake init's own state.
fn roots_files(b: &TestBox) -> std::collections::BTreeMap<String, String> {
    b.managed_state()
        .into_iter()
        .filter(|(p, _)| !p.starts_with("var/www/blot"))
        .collect()
}

#[test]
fn an_app_user_edit_changes_nothing_root_runs_until_an_operator_provisions() {
    if !require_all(&["visudo", "nginx"]) || !is_root() {
        return;
    }
    let b = TestBox::fresh();
    let out = b.blotctl().args(["provision", "--yes"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(b.read("/etc/init/nginx.conf").contains(
        "\nexec /usr/sbin/nginx -c /etc/blot/nginx.conf >> /var/log/blot/nginx.log 2>&1\n"
    ));
    assert!(b
        .read("/etc/init/redis.conf")
        .contains(" /etc/blot/redis.conf --daemonize no'\n"));
    let before = roots_files(&b);
    let nginx_pid = stdout(&b.fake("initctl", &["status", "nginx"]));

    // The app user (who owns the checkout, as deploy pulls as that user) edits it.
    let edited = b
        .read(NGINX_CONF)
        .replace("client_max_body_size 25m;", "client_max_body_size 50m;");
    b.write(NGINX_CONF, &edited);
    assert_eq!(b.owner(NGINX_CONF), (500, 500));

    // Nothing root runs changed; verify says the box is not as provisioned.
    assert_same_state(
        &before,
        &roots_files(&b),
        "an edit in the checkout changed root's files",
    );
    let v = b.blotctl().arg("verify").output().unwrap();
    assert_eq!(v.status.code(), Some(1), "{}", stdout(&v));
    assert!(
        stdout(&v).contains(
            "FAIL  provisioned: app configs: drift: refresh (the checkout's config changed) \
             in /etc/blot/nginx.conf"
        ),
        "{}",
        stdout(&v)
    );

    // The operator's dry run shows what would change, and what it would restart.
    let dry = b
        .blotctl()
        .args(["provision", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(2), "{}", stdout(&dry));
    let text = stdout(&dry);
    for line in [
        "-        client_max_body_size 25m;\n+        client_max_body_size 50m;\n",
        "  - restart nginx (/etc/blot/nginx.conf changed)\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    assert_same_state(&before, &roots_files(&b), "a dry run changed root's files");

    // Provision installs it (root's, validated) and restarts nginx, and only nginx.
    let out = b.blotctl().args(["provision", "--yes"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(b.read("/etc/blot/nginx.conf"), edited);
    assert_eq!(
        (
            b.mode("/etc/blot/nginx.conf"),
            b.owner("/etc/blot/nginx.conf")
        ),
        (0o644, (0, 0))
    );
    assert_ne!(stdout(&b.fake("initctl", &["status", "nginx"])), nginx_pid);
}

#[test]
fn without_checkout_configs_the_boxs_own_run_in_place_with_a_note() {
    let b = TestBox::fresh();
    for f in ["nginx.conf", "redis.conf"] {
        std::fs::remove_file(b.path(&format!("/var/www/blot/config/{f}"))).unwrap();
    }
    let out = b
        .blotctl()
        .args(["provision", "--dry-run"])
        .output()
        .unwrap();
    let text = stdout(&out);
    for note in [
        "note: nginx runs /etc/nginx/nginx.conf: the box's own (the checkout has no config/nginx.conf)\n",
        "note: redis runs /etc/redis.conf: the box's own (the checkout has no config/redis.conf)\n",
        // The box's stock nginx config has no /health of its own: said, not hidden.
        "warning: /etc/nginx/nginx.conf has no `location` for /health",
    ] {
        assert!(text.contains(note), "{note:?} in\n{text}");
    }
    assert!(!text.contains("/etc/blot"), "{text}");
    assert!(b.render("nginx").contains(
        "\nexec /usr/sbin/nginx -c /etc/nginx/nginx.conf >> /var/log/blot/nginx.log 2>&1\n"
    ));
    assert!(b
        .render("redis")
        .contains(" /etc/redis.conf --daemonize no'\n"));
}
