//! Blot's own configs: nginx and redis run root-owned copies (in /etc/blot) of the
//! checkout's config/nginx.conf (and what it includes) and config/redis.conf; the box's
//! own configs only when the checkout has none. The checkout belongs to the app user, so an
//! edit there changes nothing that root runs until an operator provisions (or deploys),
//! and then only after it was shown and validated. (Hostile checkouts — links, FIFOs, hard
//! links, files root would open in the checkout — are bad-input cases: bad_input.rs.)

use crate::util::*;

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
    needs!(root, "visudo", "nginx");
    let b = TestBox::fresh();
    b.run(&["provision", "--yes"]).success();
    assert!(b.read("/etc/init/nginx.conf").contains(
        "\nexec /usr/sbin/nginx -c /etc/blot/nginx.conf >> /var/log/blot/nginx.log 2>&1\n"
    ));
    assert!(b
        .read("/etc/init/redis.conf")
        .contains(" /etc/blot/redis.conf --daemonize no' 2>> /var/log/blot/redis.log\n"));
    let before = roots_files(&b);
    let nginx_pid = b.fake("initctl", &["status", "nginx"]).stdout().to_string();

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
    b.run(&["verify"]).code(1).stdout_has(
        "FAIL  provisioned: app configs: drift: refresh (the checkout's config changed) \
         in /etc/blot/nginx.conf",
    );

    // The operator's dry run shows what would change, and what it would restart.
    let dry = b.run(&["provision", "--dry-run"]);
    dry.code(2);
    for line in [
        "-        client_max_body_size 25m;\n+        client_max_body_size 50m;\n",
        "  - restart nginx (/etc/blot/nginx.conf changed)\n",
    ] {
        dry.stdout_has(line);
    }
    assert_same_state(&before, &roots_files(&b), "a dry run changed root's files");

    // Provision installs it (root's, validated) and restarts nginx, and only nginx.
    b.run(&["provision", "--yes"]).success();
    assert_eq!(b.read("/etc/blot/nginx.conf"), edited);
    assert_eq!(
        (
            b.mode("/etc/blot/nginx.conf"),
            b.owner("/etc/blot/nginx.conf")
        ),
        (0o644, (0, 0))
    );
    assert_ne!(b.fake("initctl", &["status", "nginx"]).stdout(), nginx_pid);
}

#[test]
fn without_checkout_configs_the_boxs_own_run_in_place_with_a_note() {
    let b = TestBox::fresh();
    for f in ["nginx.conf", "redis.conf"] {
        std::fs::remove_file(b.path(&format!("/var/www/blot/config/{f}"))).unwrap();
    }
    let out = b.run(&["provision", "--dry-run"]);
    for note in [
        "note: nginx runs /etc/nginx/nginx.conf: the box's own (the checkout has no config/nginx.conf)\n",
        "note: redis runs /etc/redis.conf: the box's own (the checkout has no config/redis.conf)\n",
        // The box's stock nginx config has no /health of its own: said, not hidden.
        "warning: /etc/nginx/nginx.conf has no `location` for /health",
    ] {
        out.stdout_has(note);
    }
    out.stdout_lacks("/etc/blot");
    assert!(b.render("nginx").contains(
        "\nexec /usr/sbin/nginx -c /etc/nginx/nginx.conf >> /var/log/blot/nginx.log 2>&1\n"
    ));
    assert!(b
        .render("redis")
        .contains(" /etc/redis.conf --daemonize no' 2>> /var/log/blot/redis.log\n"));
}
