//! The handlebars templates (`templates/*.hbs`), compiled into the binary, and rendering
//! them strictly.

use anyhow::{anyhow, Context, Result};
use serde::Serialize;

const TEMPLATES: [(&str, &str); 7] = [
    ("redis.conf", include_str!("../templates/redis.conf.hbs")),
    ("blot.conf", include_str!("../templates/blot.conf.hbs")),
    ("nginx.conf", include_str!("../templates/nginx.conf.hbs")),
    ("monit.conf", include_str!("../templates/monit.conf.hbs")),
    ("monit.rc", include_str!("../templates/monit.rc.hbs")),
    (
        "redis-host-settings.conf",
        include_str!("../templates/redis-host-settings.conf.hbs"),
    ),
    ("logrotate", include_str!("../templates/logrotate.hbs")),
];

/// Render one template with data of the caller's choosing (strict: a missing value is an
/// error, never an empty string).
pub fn render_with(name: &str, data: &impl Serialize) -> Result<String> {
    let mut hb = handlebars::Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    let (_, tpl) = TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| anyhow!("no template named {name}"))?;
    hb.render_template(tpl, data)
        .with_context(|| format!("cannot render template {name}"))
}
