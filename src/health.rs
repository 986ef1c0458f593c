//! One definition of "healthy", used by the monit control file (rendered from it),
//! `verify`, and the engine's wait after a restart or deploy:
//!
//! - the app: `GET <health_path>` on 127.0.0.1:`blot_port` with `Host: localhost:PORT`
//!   answers 2xx. Blot answers its health route only when the request's host name is
//!   `localhost`; any other host (`127.0.0.1`, a site without a blog) gets 404 "There is no
//!   blog at this address.";
//! - nginx: `GET <health_path>` on `nginx_port` answers 2xx. Blot's nginx config answers
//!   `location = /health` itself, so nginx's health does not depend on the app's (an app
//!   outage does not restart nginx too).
//!
//! monit (5.1 on the box, no `http headers`) gets there with `check process JOB with
//! pidfile FILE` and a port test without a host: it connects to `localhost` (the hosts step
//! keeps it at 127.0.0.1) and sends `Host: localhost:PORT`. monit counts any status below
//! 400 as up; verify and the engine ask for 2xx.

use crate::ctx::Ctx;
use crate::jobconf::{self, Program};
use anyhow::Result;
use serde::Serialize;
use std::time::Duration;

/// The host name Blot's health route answers for.
pub const HOST: &str = "localhost";

/// The blot job writes the PID of its main process (sudo, which waits for node) here, for
/// monit; it removes it when the job stops.
pub const BLOT_PIDFILE: &str = "/var/run/blot.pid";

/// monit's timeout for one probe, and the consecutive failed cycles before it restarts.
pub const TIMEOUT_SECONDS: u32 = 10;
pub const CYCLES: u32 = 2;

/// One HTTP health check: a job, the port and path asked, the pidfile monit watches.
#[derive(Debug, Clone, Serialize)]
pub struct HttpCheck {
    pub job: &'static str,
    pub port: u16,
    pub path: String,
    pub pidfile: String,
}

impl HttpCheck {
    /// What monit sends for a port test without a host.
    pub fn host_header(&self) -> String {
        format!("{HOST}:{}", self.port)
    }

    /// Ask it once: a line for people on success.
    pub fn probe(&self, ctx: &Ctx, timeout: Duration) -> Result<String> {
        let host = self.host_header();
        let status = ctx.sys.probe_http(self.port, &self.path, &host, timeout)?;
        Ok(format!(
            "HTTP {status} from 127.0.0.1:{}{} (Host: {host})",
            self.port, self.path
        ))
    }
}

/// The app's check (needs nothing from the box).
pub fn app(ctx: &Ctx) -> HttpCheck {
    let s = ctx.settings;
    HttpCheck {
        job: "blot",
        port: s.blot_port,
        path: s.health_path.clone(),
        pidfile: BLOT_PIDFILE.into(),
    }
}

/// nginx's check: its pidfile comes from the config nginx runs.
pub fn nginx(ctx: &Ctx) -> Result<HttpCheck> {
    let s = ctx.settings;
    let conf = jobconf::resolve(ctx, Program::Nginx)?;
    Ok(HttpCheck {
        job: "nginx",
        port: s.nginx_port,
        path: s.health_path.clone(),
        pidfile: jobconf::nginx_pidfile(&conf)?,
    })
}

/// Both, in the order monit's control file lists them.
pub fn checks(ctx: &Ctx) -> Result<Vec<HttpCheck>> {
    Ok(vec![app(ctx), nginx(ctx)?])
}
