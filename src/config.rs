//! Settings: the runbook's defaults, optionally overridden by a TOML file, validated so that
//! no value can break out of the job file, sudoers line or exec line it lands in.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the default config file lives on the box (resolved under `--root`).
pub const DEFAULT_CONFIG: &str = crate::paths::CONFIG;

/// The value of `node`, `nginx_config` and `redis_config` that lets blotctl find it on the
/// box (see each setting).
pub const AUTO: &str = "auto";

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The Blot checkout; logs live in `<app_dir>/logs`.
    pub app_dir: String,
    /// The app's entry point, relative to `app_dir`.
    pub app_main: String,
    /// The user the app runs as (`sudo -u`), and owner of the log files.
    pub user: String,
    /// node binary; `auto`: the app user's nvm node (`~USER/.nvm/...`), the only one there.
    pub node: String,
    /// The app's environment, exported after `sudo -u USER` (sudo's `env_reset` drops
    /// whatever the job sets before it). HOME is always the app user's home.
    pub app_env: std::collections::BTreeMap<String, String>,
    /// A file the app user's shell sources (with `set -a`) before the app starts; empty: none.
    pub app_env_file: String,
    /// Where the app listens (127.0.0.1): Blot's port is fixed in its own config, so this
    /// only tells monit and verify where to look; it cannot move the app.
    pub blot_port: u16,
    /// HTTP path that answers when Blot is healthy (asked with `Host: localhost`).
    pub health_path: String,
    /// Port nginx listens on (its `/health` is asked for).
    pub nginx_port: u16,
    /// Site names mapped to `hosts_address` in /etc/hosts (default: none).
    pub sites: Vec<String>,
    /// Address for the site names.
    pub hosts_address: String,
    /// redis-server binary.
    pub redis_server: String,
    /// redis's config: `auto` = the checkout's `config/redis.conf` (run as a root-owned
    /// copy in /etc/blot), else the box's /etc/redis.conf; or a path used in place.
    pub redis_config: String,
    /// Seconds upstart waits after SIGTERM before it SIGKILLs redis: redis saves its whole
    /// dataset when it stops (upstart 0.6.5's default of 5 s loses the writes since the
    /// last save at every reboot).
    pub redis_kill_timeout: u32,
    /// Init script names tried, in order, for the redis SysV service.
    pub redis_services: Vec<String>,
    /// nginx binary, and its config: `auto` = the checkout's `config/nginx.conf` (run as a
    /// root-owned copy in /etc/blot), else the box's /etc/nginx/nginx.conf; or a path used
    /// in place.
    pub nginx: String,
    pub nginx_config: String,
    /// monit binary and control file.
    pub monit: String,
    pub monit_rc: String,
    /// monit cycle and start delay, in seconds.
    pub monit_interval: u32,
    pub monit_start_delay: u32,
    /// Programs monit calls to start/stop a job (`/sbin/start blot`).
    pub start_program: String,
    pub stop_program: String,
    /// How long `provision` waits for each job to reach start/running, in seconds.
    pub start_timeout: u64,
    /// How long the jobs a run started must all stay running before they count, in
    /// milliseconds: one window, after the last is up (a job whose process dies at once
    /// shows start/running first).
    pub start_settle_ms: u64,
    /// Each started job must answer its health check (redis PING, the app's and nginx's
    /// health route) before the next one counts; false: a live process is enough.
    pub start_wait_healthy: bool,
    /// The git remote and branch `deploy` fast-forwards the checkout (`app_dir`) to.
    pub app_repo_remote: String,
    pub app_repo_branch: String,
    /// How often logrotate rotates the app's logs (daily, weekly, monthly) and how many
    /// rotated logs it keeps.
    pub log_rotate: String,
    pub log_keep: u32,
    /// Transparent huge pages off (`never`) before redis starts, at every boot.
    pub thp_never: bool,
    /// `vm.overcommit_memory = 1` in /etc/sysctl.conf (redis's background save forks).
    pub overcommit_memory: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            app_dir: "/var/www/blot".into(),
            app_main: "app/index.js".into(),
            user: "ec2-user".into(),
            node: AUTO.into(),
            app_env: [("NODE_ENV".to_string(), "production".to_string())].into(),
            app_env_file: String::new(),
            blot_port: 8080,
            health_path: "/health".into(),
            nginx_port: 80,
            sites: Vec::new(),
            hosts_address: "127.0.0.1".into(),
            redis_server: "/usr/sbin/redis-server".into(),
            redis_config: AUTO.into(),
            redis_kill_timeout: 300,
            redis_services: vec!["redis".into(), "redis-server".into()],
            nginx: "/usr/sbin/nginx".into(),
            nginx_config: AUTO.into(),
            monit: "/usr/bin/monit".into(),
            monit_rc: "/etc/monit.rc".into(),
            monit_interval: 30,
            monit_start_delay: 60,
            start_program: "/sbin/start".into(),
            stop_program: "/sbin/stop".into(),
            start_timeout: 30,
            start_settle_ms: 2000,
            start_wait_healthy: true,
            app_repo_remote: "origin".into(),
            app_repo_branch: "master".into(),
            log_rotate: "daily".into(),
            log_keep: 14,
            thp_never: true,
            overcommit_memory: true,
        }
    }
}

/// A setting that cannot be used: which keys, and why. [`resolve`] adds where each key's
/// value came from.
#[derive(Debug)]
pub struct Invalid {
    pub keys: Vec<&'static str>,
    pub msg: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}
impl std::error::Error for Invalid {}

/// Tag a check's error with the key it is about.
fn at(key: &'static str, r: Result<()>) -> Result<(), Invalid> {
    r.map_err(|e| Invalid {
        keys: vec![key],
        msg: format!("{e:#}"),
    })
}

fn invalid(keys: &[&'static str], msg: String) -> Result<(), Invalid> {
    Err(Invalid {
        keys: keys.to_vec(),
        msg,
    })
}

/// The most `start_timeout` may be: an hour is already far longer than any job needs.
pub const MAX_START_TIMEOUT: u64 = 3600;
/// The most `start_settle_ms` may be (ten minutes).
pub const MAX_SETTLE_MS: u64 = 600_000;
/// The most monit's cycle and start delay may be (a day).
pub const MAX_MONIT_SECONDS: u32 = 86_400;

/// Files blotctl must never write, whatever a setting says: a wrong sudoers locks the
/// operator out, and the account files belong to the system.
const NEVER_WRITE: &[&str] = &[
    "/etc/sudoers",
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
];
/// Directories nothing of a setting may land in: sudo, upstart and logrotate read every
/// file there (blotctl's own files in them are fixed names, never settings).
const NEVER_WRITE_DIRS: &[&str] = &["/etc/sudoers.d", "/etc/init", "/etc/logrotate.d"];
/// System directories the app (and its logs, owned by the app user) must not live in.
const SYSTEM_DIRS: &[&str] = &[
    "/etc",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/usr",
    "/boot",
    "/dev",
    "/proc",
    "/sys",
    "/run",
    "/root",
    "/var/lock",
    "/var/run",
    "/var/lib/blotctl",
];
/// Where a monit control file may be (the places monit's packages keep it): the runbook's
/// `/etc/monit.rc`, EL6's `/etc/monit.conf`, monit's own `/etc/monitrc`, Debian's
/// `/etc/monit/monitrc`.
const MONIT_RC_DIRS: &[&str] = &["/etc", "/etc/monit"];

fn inside(path: &str, dir: &str) -> bool {
    path == dir || path.starts_with(&format!("{dir}/"))
}

impl Settings {
    /// Parse one TOML document over the defaults and validate it (no layering).
    pub fn from_toml(text: &str, origin: &str) -> Result<Settings> {
        Ok(resolve(vec![Layer::parse(text, origin)?], None)?.settings)
    }

    /// Refuse any value that could break out of where it is rendered, or that aims a
    /// write at a file blotctl must not write.
    pub fn validate(&self) -> Result<()> {
        self.check().map_err(anyhow::Error::from)
    }

    /// [`Settings::validate`], naming the keys at fault.
    pub fn check(&self) -> Result<(), Invalid> {
        for (key, val) in [
            ("node", &self.node),
            ("redis_config", &self.redis_config),
            ("nginx_config", &self.nginx_config),
        ] {
            if val != AUTO {
                at(
                    key,
                    absolute_path(key, val)
                        .with_context(|| format!("{key} is `{AUTO}` or an absolute path")),
                )?;
            }
        }
        if !self.app_env_file.is_empty() {
            at(
                "app_env_file",
                absolute_path("app_env_file", &self.app_env_file),
            )?;
        }
        for (name, value) in &self.app_env {
            at("app_env", env_name("app_env", name))?;
            if name == "HOME" {
                invalid(
                    &["app_env"],
                    "app_env: HOME is always the app user's home (from the box's /etc/passwd)"
                        .into(),
                )?;
            }
            at("app_env", env_value(&format!("app_env.{name}"), value))?;
        }
        if self.redis_kill_timeout == 0 {
            invalid(
                &["redis_kill_timeout"],
                "redis_kill_timeout must be at least 1 second".into(),
            )?;
        }
        for (key, val) in [
            ("app_dir", &self.app_dir),
            ("redis_server", &self.redis_server),
            ("nginx", &self.nginx),
            ("monit", &self.monit),
            ("monit_rc", &self.monit_rc),
            ("start_program", &self.start_program),
            ("stop_program", &self.stop_program),
        ] {
            at(key, absolute_path(key, val))?;
        }
        at("app_main", safe_word("app_main", &self.app_main))?;
        if self.app_main.starts_with('/') || self.app_main.split('/').any(|c| c == "..") {
            invalid(
                &["app_main"],
                format!(
                    "app_main = {:?}: must be a path inside app_dir",
                    self.app_main
                ),
            )?;
        }
        if !(self.health_path.starts_with('/')) {
            invalid(
                &["health_path"],
                format!("health_path = {:?}: must start with /", self.health_path),
            )?;
        }
        at("health_path", safe_word("health_path", &self.health_path))?;
        at("user", user_name("user", &self.user))?;
        if self.user == "root" {
            invalid(&["user"], root_user_message(&self.user))?;
        }
        for (key, port) in [
            ("blot_port", self.blot_port),
            ("nginx_port", self.nginx_port),
        ] {
            if port == 0 {
                invalid(&[key], format!("{key} = 0: a port must be 1..=65535"))?;
            }
        }
        if self.blot_port == self.nginx_port {
            invalid(
                &["blot_port", "nginx_port"],
                format!("blot_port and nginx_port are both {}", self.blot_port),
            )?;
        }
        if self.hosts_address.parse::<std::net::IpAddr>().is_err() {
            invalid(
                &["hosts_address"],
                format!(
                    "hosts_address = {:?}: not an IP address",
                    self.hosts_address
                ),
            )?;
        }
        for s in &self.sites {
            at("sites", host_name("sites", s))?;
        }
        if self.redis_services.is_empty() {
            invalid(
                &["redis_services"],
                "redis_services: at least one init script name is needed".into(),
            )?;
        }
        for s in &self.redis_services {
            at("redis_services", redis_service_name("redis_services", s))?;
        }
        for (key, v) in [
            ("monit_interval", self.monit_interval),
            ("monit_start_delay", self.monit_start_delay),
        ] {
            if v > MAX_MONIT_SECONDS {
                invalid(
                    &[key],
                    format!("{key} = {v}: at most {MAX_MONIT_SECONDS} seconds (a day)"),
                )?;
            }
        }
        if self.monit_interval == 0 {
            invalid(
                &["monit_interval"],
                "monit_interval must be at least 1 second".into(),
            )?;
        }
        if !(1..=MAX_START_TIMEOUT).contains(&self.start_timeout) {
            invalid(
                &["start_timeout"],
                format!(
                    "start_timeout = {}: must be 1..={MAX_START_TIMEOUT} seconds",
                    self.start_timeout
                ),
            )?;
        }
        if self.start_settle_ms > MAX_SETTLE_MS {
            invalid(
                &["start_settle_ms"],
                format!(
                    "start_settle_ms = {}: at most {MAX_SETTLE_MS} (ten minutes)",
                    self.start_settle_ms
                ),
            )?;
        }
        at(
            "app_repo_remote",
            git_name("app_repo_remote", &self.app_repo_remote),
        )?;
        at(
            "app_repo_branch",
            git_name("app_repo_branch", &self.app_repo_branch),
        )?;
        if !["daily", "weekly", "monthly"].contains(&self.log_rotate.as_str()) {
            invalid(
                &["log_rotate"],
                format!(
                    "log_rotate = {:?}: must be daily, weekly or monthly",
                    self.log_rotate
                ),
            )?;
        }
        if !(1..=1000).contains(&self.log_keep) {
            invalid(
                &["log_keep"],
                format!("log_keep = {}: must be 1..=1000", self.log_keep),
            )?;
        }
        self.check_paths()
    }

    /// Paths a setting decides that blotctl writes (`monit_rc`, the logs under `app_dir`)
    /// must stay inside what the runbook manages: never a file blotctl must not write,
    /// never another managed path, never a file blotctl only reads.
    fn check_paths(&self) -> Result<(), Invalid> {
        let rc = self.monit_rc.as_str();
        let never =
            |p: &str| NEVER_WRITE.contains(&p) || NEVER_WRITE_DIRS.iter().any(|d| inside(p, d));
        if never(rc) {
            invalid(
                &["monit_rc"],
                format!(
                    "monit_rc = {rc:?}: blotctl never writes {rc} (sudoers, the account files, \
                    and the directories sudo, upstart and logrotate read are not for a \
                    setting to aim at)"
                ),
            )?;
        }
        for (other, what) in crate::paths::FIXED {
            if rc == other {
                invalid(
                    &["monit_rc"],
                    format!("monit_rc = {rc:?}: that is {what}, which blotctl manages as such"),
                )?;
            }
        }
        for (key, read) in [
            ("redis_config", &self.redis_config),
            ("nginx_config", &self.nginx_config),
        ] {
            if rc == read.as_str() {
                invalid(
                    &["monit_rc", key],
                    format!(
                        "monit_rc and {key} are both {rc:?}: blotctl reads {key} and never \
                        writes it"
                    ),
                )?;
            }
        }
        let (dir, name) = rc.rsplit_once('/').unwrap_or(("", rc));
        let dir = if dir.is_empty() { "/" } else { dir };
        if !MONIT_RC_DIRS.contains(&dir) || !name.starts_with("monit") {
            invalid(
                &["monit_rc"],
                format!(
                    "monit_rc = {rc:?}: the monit control file must be one of the places \
                    monit keeps it: /etc/monit.rc, /etc/monit.conf, /etc/monitrc, \
                    /etc/monit/monitrc (a file named monit* in /etc or /etc/monit)"
                ),
            )?;
        }
        let app = self.app_dir.as_str();
        if app == "/" || SYSTEM_DIRS.iter().any(|d| inside(app, d)) {
            invalid(
                &["app_dir"],
                format!(
                    "app_dir = {app:?}: a system directory; blotctl creates the app's logs \
                    there owned by the app user, so it must be the Blot checkout (e.g. \
                    /var/www/blot)"
                ),
            )?;
        }
        if self.log_files().iter().any(|l| l == rc) || inside(rc, &self.logs_dir()) {
            invalid(
                &["monit_rc", "app_dir"],
                format!("monit_rc = {rc:?} is inside the app's logs directory"),
            )?;
        }
        Ok(())
    }

    /// Refuse an app user that is root by its uid on the box (`passwd`: the box's
    /// /etc/passwd, when there is one): the whole sudo arrangement exists so that the app
    /// never runs as root.
    pub fn check_user(&self, passwd: &str) -> Result<(), Invalid> {
        if let Ok(acct) = crate::accounts::lookup_user(passwd, &self.user) {
            if acct.uid == 0 {
                invalid(&["user"], root_user_message(&self.user))?;
            }
        }
        Ok(())
    }

    pub fn logs_dir(&self) -> String {
        format!("{}/logs", self.app_dir)
    }

    /// The logs in the checkout, written by the app user: node's output (`app.log`) and
    /// the jobs' lines and redis's output (`sys.log`).
    pub fn log_files(&self) -> Vec<String> {
        [self.app_log(), self.sys_log()].to_vec()
    }

    pub fn app_log(&self) -> String {
        format!("{}/app.log", self.logs_dir())
    }

    pub fn sys_log(&self) -> String {
        format!("{}/sys.log", self.logs_dir())
    }
}

/// Root's own logs: what the programs that run as root print (nginx's master, monit, and
/// sudo in the jobs that run `sudo -u USER`, before the app user's shell opens its logs).
/// Never in the checkout: a file root opens there could be a link the app user planted.
pub const ROOT_LOG_DIR: &str = "/var/log/blot";

/// A job's log in root's own directory (see [`crate::jobs::Job::root_log`]).
pub fn root_log(job: &str) -> String {
    format!("{ROOT_LOG_DIR}/{job}.log")
}

impl Settings {}

/// One source of settings, e.g. a config file or the environment.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Where the values came from, as `blotctl config` shows it.
    pub origin: String,
    pub table: toml::Table,
    /// key -> where exactly its value came from, for errors ("config file
    /// /etc/blotctl.toml", "environment variable BLOTCTL_BLOT_PORT", "--set blot_port=1").
    pub sources: BTreeMap<String, String>,
}

/// Environment variables that are not settings.
const RESERVED_ENV: &[&str] = &[
    "BLOTCTL_ROOT",
    "BLOTCTL_CONFIG",
    "BLOTCTL_CRASH_AT",
    "BLOTCTL_CRASH_RUNS",
    "BLOTCTL_SIGNAL_RUNS",
    "BLOTCTL_SSH_OPTS",
    "BLOTCTL_XTASK_CACHE",
];

impl Layer {
    /// A TOML document; unknown keys are errors with a did-you-mean. `origin` is how
    /// `blotctl config` shows it (the path, or `--config PATH`).
    pub fn parse(text: &str, origin: &str) -> Result<Layer> {
        let source = if origin.starts_with('/') {
            format!("config file {origin}")
        } else {
            format!("config file {origin}").replacen("config file --config ", "--config ", 1)
        };
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}", parse_error(text, &e)))
            .with_context(|| format!("invalid config file {origin}"))?;
        for key in table.keys() {
            check_key(key).with_context(|| format!("invalid config file {origin}"))?;
        }
        let sources = table.keys().map(|k| (k.clone(), source.clone())).collect();
        Ok(Layer {
            origin: origin.into(),
            table,
            sources,
        })
    }

    /// `BLOTCTL_<KEY>` variables (e.g. `BLOTCTL_BLOT_PORT=9000`); a value that is not a
    /// TOML value (a number, `true`, `["a", "b"]`, a quoted string) is taken as a string.
    /// Any variable may hold bytes that are not UTF-8 (those outside blotctl's names are
    /// none of its business); a `BLOTCTL_*` one that does is an error naming it.
    pub fn from_env(
        vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    ) -> Result<Option<Layer>> {
        use std::os::unix::ffi::OsStrExt;
        let mut table = toml::Table::new();
        let mut sources = BTreeMap::new();
        for (name, value) in vars {
            if !name.as_bytes().starts_with(b"BLOTCTL_") {
                continue;
            }
            let Some(name) = name.to_str() else {
                bail!(
                    "the environment variable {} has a name that is not valid UTF-8; unset it",
                    name.to_string_lossy()
                );
            };
            let key = &name["BLOTCTL_".len()..];
            if RESERVED_ENV.contains(&name) || name.starts_with("BLOTCTL_BUILD_") {
                continue; // not settings (BUILD_*: set by the build, `cargo test` passes them on)
            }
            let Some(value) = value.to_str() else {
                bail!(
                    "invalid environment variable {name}: its value is not valid UTF-8 (unset \
                    it, or set it to text)"
                );
            };
            let key = key.to_ascii_lowercase();
            if let Err(e) = check_key(&key) {
                // Other programs' variables may share the prefix: warn, do not fail.
                crate::errln!("warning: ignoring environment variable {name}: {e}");
                continue;
            }
            sources.insert(key.clone(), format!("environment variable {name}"));
            table.insert(key, loose_value(value.to_string()));
        }
        Ok((!table.is_empty()).then(|| Layer {
            origin: "environment".into(),
            table,
            sources,
        }))
    }

    /// `--set KEY=VALUE` flags, the top layer. Unlike the environment's, an unknown key
    /// here is an error: the operator typed it for blotctl.
    pub fn from_flags(sets: &[String]) -> Result<Option<Layer>> {
        let mut table = toml::Table::new();
        let mut sources = BTreeMap::new();
        for kv in sets {
            let Some((key, value)) = kv.split_once('=') else {
                bail!("--set {kv:?}: expected KEY=VALUE (`blotctl config` lists the keys)");
            };
            let key = key.trim();
            let value = loose_value(value.trim().to_string());
            check_key(key)
                .and_then(|()| check_type(key, &value))
                .with_context(|| format!("--set {kv:?}"))?;
            sources.insert(key.to_string(), format!("--set {kv}"));
            table.insert(key.to_string(), value);
        }
        Ok((!table.is_empty()).then(|| Layer {
            origin: "--set".into(),
            table,
            sources,
        }))
    }
}

/// A file that is not TOML, told by position and what was expected, never by its lines: a
/// file given as `--config` may be anything (`/etc/shadow`), and the message reaches stderr
/// and the JSON document.
fn parse_error(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return format!("not a TOML file: {}", e.message().trim_end());
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!(
        "not a TOML file: line {line}, column {column}: {} (the file's text is not shown)",
        e.message().trim_end()
    )
}

/// A value from the command line or the environment: TOML when it parses as a TOML value
/// (a number, `true`, `["a", "b"]`, a quoted string), else the text as a string.
fn loose_value(value: String) -> toml::Value {
    format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or(toml::Value::String(value))
}

/// Whether `key` takes a value like this one (`blot_port = "abc"` is not a port).
fn check_type(key: &str, value: &toml::Value) -> Result<()> {
    let mut table = toml::Table::try_from(Settings::default()).expect("settings serialize");
    table.insert(key.to_string(), value.clone());
    table
        .try_into::<Settings>()
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{}", in_words(e.message())))
}

/// serde's "expected u16" in words an operator reads: what the setting takes.
fn in_words(message: &str) -> String {
    let message = message.trim_end();
    let (found, expected) = match message.rsplit_once(", expected ") {
        Some(split) => split,
        None => return message.to_string(),
    };
    let words = match expected {
        "u16" => "a whole number from 0 to 65535 (a port: 1 to 65535)",
        "u32" => "a whole number from 0 to 4294967295",
        "u64" => "a whole number from 0 to 18446744073709551615",
        "a boolean" => "true or false",
        "a sequence" => "a list of quoted strings, e.g. [\"a\", \"b\"]",
        "a string" => "a quoted string",
        other => other,
    };
    let found = found
        .replace("invalid type: ", "")
        .replace("invalid value: ", "");
    format!("{found} is not {words}")
}

/// The settings every layer may set.
pub fn known_keys() -> Vec<String> {
    toml::Table::try_from(Settings::default())
        .expect("settings serialize to a table")
        .keys()
        .cloned()
        .collect()
}

fn check_key(key: &str) -> Result<()> {
    let known = known_keys();
    if known.iter().any(|k| k == key) {
        return Ok(());
    }
    let best = known
        .iter()
        .map(|k| (strsim::jaro_winkler(k, key), k))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.8);
    match best {
        Some((_, k)) => bail!("unknown key `{key}` (did you mean `{k}`?)"),
        None => bail!("unknown key `{key}` (`blotctl config` lists the known keys)"),
    }
}

/// Settings with the source of each value.
#[derive(Debug, Clone)]
pub struct Effective {
    pub settings: Settings,
    /// key -> where its value came from (`default` when no layer set it).
    pub sources: std::collections::BTreeMap<String, String>,
}

/// Merge layers over the defaults (later layers win, key by key) and validate the result.
/// `passwd` is the box's /etc/passwd, when there is one (the app user must not be uid 0).
/// Every error names the key and where its value came from.
pub fn resolve(layers: Vec<Layer>, passwd: Option<&str>) -> Result<Effective> {
    let mut merged = toml::Table::try_from(Settings::default()).expect("settings serialize");
    let mut sources: BTreeMap<String, String> = merged
        .keys()
        .map(|k| (k.clone(), "default".to_string()))
        .collect();
    let mut blame: BTreeMap<String, String> = BTreeMap::new();
    for layer in &layers {
        for (k, v) in &layer.table {
            let source = layer
                .sources
                .get(k)
                .cloned()
                .unwrap_or_else(|| layer.origin.clone());
            // Each value on its own over the defaults: a wrong type names its key.
            if let Err(e) = check_type(k, v) {
                bail!("invalid {source}: {k} = {v}: {e}");
            }
            merged.insert(k.clone(), v.clone());
            sources.insert(k.clone(), layer.origin.clone());
            blame.insert(k.clone(), source);
        }
    }
    let settings: Settings = Settings::deserialize(merged)
        .map_err(|e| anyhow::anyhow!("invalid settings: {}", in_words(e.message())))?;
    let checked = settings
        .check()
        .and_then(|()| passwd.map_or(Ok(()), |p| settings.check_user(p)));
    if let Err(bad) = checked {
        let from = |k: &str| {
            blame
                .get(k)
                .cloned()
                .unwrap_or_else(|| "the default".into())
        };
        let first = bad
            .keys
            .iter()
            .find(|k| blame.contains_key(**k))
            .or(bad.keys.first())
            .copied()
            .unwrap_or("settings");
        let mut msg = format!("invalid {}: {}", from(first), bad.msg);
        if bad.keys.len() > 1 {
            let each: Vec<String> = bad
                .keys
                .iter()
                .map(|k| format!("{k} from {}", from(k)))
                .collect();
            msg.push_str(&format!(" ({})", each.join(", ")));
        } else if !bad.msg.contains(first) {
            msg.push_str(&format!(" (setting `{first}`)"));
        }
        bail!(msg);
    }
    Ok(Effective { settings, sources })
}

/// What each setting is for, for `blotctl init`'s commented file.
const DOCS: &[(&str, &str)] = &[
    ("app_dir", "The Blot checkout; logs live in <app_dir>/logs."),
    ("app_main", "The app's entry point, relative to app_dir."),
    (
        "user",
        "The user the app runs as (sudo -u) and owner of its logs; from the box's /etc/passwd.",
    ),
    (
        "node",
        "The node binary; auto: the app user's nvm node (~USER/.nvm/...), when there is one.",
    ),
    (
        "app_env",
        "The app's environment, exported after `sudo -u USER` (HOME is always the user's home).",
    ),
    (
        "app_env_file",
        "A file the app user's shell sources (set -a) before the app starts; empty: none.",
    ),
    (
        "blot_port",
        "Where the app listens (127.0.0.1); Blot's own config fixes it, blotctl cannot move it.",
    ),
    (
        "health_path",
        "HTTP path that answers when Blot is healthy (monit and verify ask it with Host: localhost).",
    ),
    ("nginx_port", "Port nginx listens on (monit and verify ask its /health)."),
    (
        "sites",
        "Site names mapped to hosts_address in /etc/hosts (default none; localhost is always ensured).",
    ),
    ("hosts_address", "Address for the site names."),
    ("redis_server", "The redis-server binary."),
    (
        "redis_config",
        "auto: the checkout's config/redis.conf as a root-owned copy in /etc/blot, else /etc/redis.conf.",
    ),
    (
        "redis_kill_timeout",
        "Seconds upstart waits for redis to save its dataset on stop before SIGKILL.",
    ),
    (
        "redis_services",
        "SysV init script names tried, in order, for redis (chkconfig turns it off): redis's own names only, redis, redis-server or redis_PORT.",
    ),
    ("nginx", "The nginx binary."),
    (
        "nginx_config",
        "auto: the checkout's config/nginx.conf as a root-owned copy in /etc/blot, else /etc/nginx/nginx.conf.",
    ),
    ("monit", "The monit binary."),
    (
        "monit_rc",
        "The monit control file blotctl writes (mode 0700).",
    ),
    ("monit_interval", "monit's cycle, in seconds."),
    (
        "monit_start_delay",
        "How long monit waits after starting before its first check, in seconds.",
    ),
    (
        "start_program",
        "What monit runs to start a job (`<start_program> blot`).",
    ),
    ("stop_program", "What monit runs to stop a job."),
    (
        "start_timeout",
        "Seconds provision waits for each job to reach start/running.",
    ),
    (
        "start_settle_ms",
        "How long the started jobs must all stay running to count, in milliseconds.",
    ),
    (
        "start_wait_healthy",
        "Wait for each started job's health check (redis PING, Blot's and nginx's health route), in start order.",
    ),
    (
        "app_repo_remote",
        "The git remote `blotctl deploy` fetches (in the app_dir checkout).",
    ),
    (
        "app_repo_branch",
        "The branch `blotctl deploy` fast-forwards to (never merges, never resets).",
    ),
    (
        "log_rotate",
        "How often logrotate rotates the app's logs: daily, weekly or monthly.",
    ),
    ("log_keep", "How many rotated logs logrotate keeps."),
    (
        "thp_never",
        "Turn transparent huge pages off before redis starts, at every boot (redis warns otherwise).",
    ),
    (
        "overcommit_memory",
        "Set vm.overcommit_memory = 1 in /etc/sysctl.conf (redis warns otherwise).",
    ),
];

/// The settings as a TOML file, each key under a comment saying what it is for. A key whose
/// value is the built-in default is written commented out (`#key = value`, as shipped
/// configs do), so the file sets only what differs and `blotctl config` attributes only
/// those keys to it.
pub fn commented_toml(s: &Settings) -> Result<String> {
    let table = toml::Table::try_from(s)?;
    let defaults = toml::Table::try_from(Settings::default())?;
    let mut out = String::from(
        "# blotctl settings. Precedence, lowest first: built-in defaults < this file <\n\
         # --config FILE or BLOTCTL_CONFIG < BLOTCTL_<KEY> environment variables <\n\
         # --set KEY=VALUE flags. A commented-out key shows its built-in default; remove the\n\
         # `#` to change it. `blotctl config` shows the effective value of each key and\n\
         # where it came from.\n",
    );
    for (k, v) in &table {
        let doc = DOCS.iter().find(|(n, _)| n == k).map_or("", |(_, d)| *d);
        let hash = if defaults.get(k) == Some(v) { "#" } else { "" };
        out.push_str(&format!("\n# {doc}\n{hash}{k} = {v}\n"));
    }
    Ok(out)
}

/// Characters that mean something to `/bin/sh`, upstart's tokenizer or sudoers.
const SPECIAL: &[char] = &[
    ' ', '\t', '\n', '\r', '"', '\'', '`', '$', '\\', ';', '&', '|', '<', '>', '(', ')', '{', '}',
    '[', ']', '*', '?', '!', '#', '~', '%', ',', '=',
];

fn root_user_message(user: &str) -> String {
    format!(
        "user = {user:?} is root (uid 0): the app must never run as root, which is why upstart \
         runs it with `sudo -u USER`; set `user` to the unprivileged account that owns the \
         checkout (e.g. ec2-user)"
    )
}

fn safe_word(key: &str, val: &str) -> Result<()> {
    if val.is_empty() {
        bail!("{key} is empty");
    }
    if let Some(c) = val.chars().find(|c| SPECIAL.contains(c) || c.is_control()) {
        bail!(
            "{key} = {val:?}: the character {c:?} is not allowed (it would break out of the \
             job file or command line it is written into)"
        );
    }
    Ok(())
}

fn absolute_path(key: &str, val: &str) -> Result<()> {
    safe_word(key, val)?;
    if !val.starts_with('/')
        || val.split('/').any(|c| c == "..")
        || val.len() > 1 && val.ends_with('/')
    {
        bail!("{key} = {val:?}: must be an absolute path without `..` or a trailing /");
    }
    Ok(())
}

fn user_name(key: &str, val: &str) -> Result<()> {
    let ok = !val.is_empty()
        && val.len() <= 32
        && val.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && val
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        bail!("{key} = {val:?}: not a valid user name ([a-z_][a-z0-9_-]*)");
    }
    Ok(())
}

/// An environment variable's name, as a POSIX shell takes it.
fn env_name(key: &str, val: &str) -> Result<()> {
    let ok = val.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && val.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        bail!("{key}: {val:?} is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
    }
    Ok(())
}

/// An environment value exported by the app user's shell: words and paths only (it is
/// written unquoted into a job file's command line).
fn env_value(key: &str, val: &str) -> Result<()> {
    if let Some(c) = val
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_./:=,@+-".contains(*c)))
    {
        bail!(
            "{key} = {val:?}: the character {c:?} is not allowed (letters, digits and _ . / : = , @ + - only)"
        );
    }
    Ok(())
}

fn host_name(key: &str, val: &str) -> Result<()> {
    let ok = !val.is_empty()
        && val.len() <= 253
        && val.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !ok {
        bail!("{key}: {val:?} is not a valid host name");
    }
    Ok(())
}

/// A git remote or branch name: a safe word git will not take for an option or a range.
fn git_name(key: &str, val: &str) -> Result<()> {
    safe_word(key, val)?;
    let bad = val.starts_with(['-', '/', '.'])
        || val.ends_with(['/', '.'])
        || val.ends_with(".lock")
        || val.contains("..")
        || val.contains("//")
        || val.contains("@{")
        || val.contains(':')
        || val.contains('^');
    if bad {
        bail!("{key} = {val:?}: not a usable git remote or branch name");
    }
    Ok(())
}

/// The names redis's own SysV init scripts go by: `redis` (Amazon Linux, EPEL),
/// `redis-server` (Debian, and the runbook's), `redis_PORT` (redis's own
/// `utils/install_server.sh`, e.g. `redis_6379`). The chkconfig step turns the service named
/// here off in every runlevel, so any other name (`sshd`) could lock the operator out.
fn redis_service_name(key: &str, val: &str) -> Result<()> {
    let port = |p: &str| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit());
    let ok =
        val == "redis" || val == "redis-server" || val.strip_prefix("redis_").is_some_and(port);
    if !ok {
        bail!(
            "{key}: {val:?} is not the name of a redis init script: blotctl turns the \
             services named here off with chkconfig, so it accepts only redis's own names \
             (redis, redis-server, or redis_PORT as redis's install_server.sh names it)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    fn vars(v: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        v.iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn err(layers: Vec<Layer>, passwd: Option<&str>) -> String {
        format!("{:#}", resolve(layers, passwd).unwrap_err())
    }

    #[test]
    fn every_error_names_the_key_and_its_source() {
        let file = Layer::parse("blot_port = 65536\n", "/etc/blotctl.toml").unwrap();
        let e = err(vec![file], None);
        assert!(
            e.contains("config file /etc/blotctl.toml") && e.contains("blot_port = 65536"),
            "{e}"
        );
        let env = Layer::from_env(vars(&[("BLOTCTL_NGINX_PORT", "70000")]))
            .unwrap()
            .unwrap();
        let e = err(vec![env], None);
        assert!(
            e.contains("environment variable BLOTCTL_NGINX_PORT") && e.contains("nginx_port"),
            "{e}"
        );
        // --set: a type error already when the flag is read, a refused value when merged.
        let e = Layer::from_flags(&["start_timeout=18446744073709551615".into()]).unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("--set \"start_timeout=18446744073709551615\""),
            "{e}"
        );
        let flags = Layer::from_flags(&["start_timeout=9223372036854775807".into()])
            .unwrap()
            .unwrap();
        let e = err(vec![flags], None);
        assert!(
            e.contains("--set start_timeout=9223372036854775807") && e.contains("must be 1..="),
            "{e}"
        );
        // Two keys at fault: each with its own source.
        let file = Layer::parse("blot_port = 80\n", "/etc/blotctl.toml").unwrap();
        let e = err(vec![file], None);
        assert!(
            e.contains("blot_port from config file /etc/blotctl.toml")
                && e.contains("nginx_port from the default"),
            "{e}"
        );
    }

    #[test]
    fn non_utf8_environment() {
        let bad = OsString::from_vec(vec![0xff, 0xfe]);
        // Not blotctl's: ignored.
        let l = Layer::from_env(vec![(OsString::from("LANG"), bad.clone())]).unwrap();
        assert!(l.is_none());
        let e = Layer::from_env(vec![(OsString::from("BLOTCTL_USER"), bad)]).unwrap_err();
        assert!(e.to_string().contains("BLOTCTL_USER"), "{e}");
        // Not a setting, and not unknown either.
        assert!(Layer::from_env(vars(&[("BLOTCTL_SSH_OPTS", "-v")]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn settings_aimed_at_system_files_are_refused() {
        for (toml, want) in [
            ("monit_rc = \"/etc/sudoers\"", "never writes /etc/sudoers"),
            ("monit_rc = \"/etc/shadow\"", "never writes /etc/shadow"),
            ("monit_rc = \"/etc/sudoers.d/monit\"", "never writes"),
            ("monit_rc = \"/etc/hosts\"", "the hosts file"),
            (
                "monit_rc = \"/etc/blotctl.toml\"",
                "blotctl's own config file",
            ),
            ("monit_rc = \"/etc/init/monit.rc\"", "never writes"),
            ("monit_rc = \"/var/tmp/monit.rc\"", "places monit keeps it"),
            (
                "monit_rc = \"/etc/monitrc\"\nredis_config = \"/etc/monitrc\"",
                "reads redis_config",
            ),
            ("app_dir = \"/etc\"", "a system directory"),
            ("app_dir = \"/\"", "a system directory"),
            ("app_dir = \"/usr/lib/blot\"", "a system directory"),
        ] {
            let l = Layer::parse(toml, "/etc/blotctl.toml").unwrap();
            let e = err(vec![l], None);
            assert!(
                e.contains(want) && e.contains("config file /etc/blotctl.toml"),
                "{toml}: {e}"
            );
        }
        for ok in [
            "/etc/monit.rc",
            "/etc/monit.conf",
            "/etc/monitrc",
            "/etc/monit/monitrc",
        ] {
            let l = Layer::parse(&format!("monit_rc = {ok:?}"), "c").unwrap();
            resolve(vec![l], None).unwrap();
        }
    }

    #[test]
    fn redis_services_name_only_redis() {
        for ok in ["redis", "redis-server", "redis_6379"] {
            let l = Layer::parse(&format!("redis_services = [{ok:?}]"), "c").unwrap();
            resolve(vec![l], None).unwrap();
        }
        for bad in [
            "sshd",
            "network",
            "redis_",
            "redis_port",
            "redis-sentinel",
            "xredis",
        ] {
            let l = Layer::parse(&format!("redis_services = [\"redis\", {bad:?}]"), "c").unwrap();
            let e = err(vec![l], None);
            assert!(
                e.contains("is not the name of a redis init script") && e.contains("config file c"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_root_app_user_is_refused() {
        let l = Layer::parse("user = \"root\"", "/etc/blotctl.toml").unwrap();
        assert!(err(vec![l], None).contains("uid 0"));
        let passwd =
            "root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\nblot:x:500:500::/h:/bin/sh\n";
        let l = Layer::parse("user = \"toor\"", "/etc/blotctl.toml").unwrap();
        let e = err(vec![l], Some(passwd));
        assert!(
            e.contains("uid 0") && e.contains("/etc/blotctl.toml"),
            "{e}"
        );
        let l = Layer::parse("user = \"blot\"", "c").unwrap();
        resolve(vec![l], Some(passwd)).unwrap();
    }

    #[test]
    fn a_file_that_is_not_toml_is_never_quoted() {
        let shadow = "root:$6$SECRET:20228:0:99999:7:::\nbin:*:17000::::::\n";
        let e = format!(
            "{:#}",
            Layer::parse(shadow, "--config /etc/shadow").unwrap_err()
        );
        assert!(
            e.contains("invalid config file --config /etc/shadow")
                && e.contains("line 1, column 34")
                && !e.contains("SECRET")
                && !e.contains("root:"),
            "{e}"
        );
        let e = format!("{:#}", Layer::parse("a = 1\nb = \"x\n", "c").unwrap_err());
        assert!(e.contains("line 2, column 7") && !e.contains("b = "), "{e}");
    }

    #[test]
    fn type_errors_say_what_the_key_takes_in_words() {
        for (set, want) in [
            ("blot_port=abc", "--set \"blot_port=abc\": string \"abc\" is not a whole number from 0 to 65535 (a port"),
            ("nginx_port=70000", "integer `70000` is not a whole number from 0 to 65535"),
            ("log_keep=-1", "integer `-1` is not a whole number from 0 to 4294967295"),
            ("thp_never=3", "--set \"thp_never=3\": integer `3` is not true or false"),
            ("sites=3", "integer `3` is not a list of quoted strings"),
            ("user=3", "--set \"user=3\": integer `3` is not a quoted string"),
        ] {
            let e = format!("{:#}", Layer::from_flags(&[set.into()]).unwrap_err());
            assert!(e.contains(want) && !e.contains("expected u"), "{set}: {e}");
        }
        let env = Layer::from_env(vars(&[("BLOTCTL_BLOT_PORT", "70000")]))
            .unwrap()
            .unwrap();
        let e = err(vec![env], None);
        assert!(
            e.contains("environment variable BLOTCTL_BLOT_PORT: blot_port = 70000: integer `70000` is not a whole number"),
            "{e}"
        );
    }

    #[test]
    fn defaults_are_valid() {
        Settings::default().validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = Settings::from_toml("app_dirr = \"/x\"\n", "/c.toml").unwrap_err();
        assert!(
            format!("{e:#}").contains("unknown key `app_dirr` (did you mean `app_dir`?)"),
            "{e:#}"
        );
    }

    #[test]
    fn values_that_break_out_are_refused() {
        for bad in [
            "user = \"ec2-user\\nroot\"",
            "app_dir = \"/var/www/blot; rm -rf /\"",
            "node = \"/usr/bin/node\\\"\"",
            "app_dir = \"relative\"",
            "sites = [\"a b\"]",
            "hosts_address = \"localhost\"",
            "health_path = \"/h$(id)\"",
            "app_main = \"../x.js\"",
            "app_repo_branch = \"--upload-pack=touch\"",
            "app_repo_branch = \"master..evil\"",
            "app_repo_remote = \"-o\"",
            "log_rotate = \"hourly\"",
            "log_keep = 0",
            "node = \"node\"",
            "app_env = { HOME = \"/root\" }",
            "app_env = { NODE_ENV = \"prod uction\" }",
            "app_env = { NODE_ENV = \"$(id)\" }",
            "app_env = { \"1X\" = \"a\" }",
            "app_env_file = \"env\"",
            "redis_kill_timeout = 0",
        ] {
            assert!(Settings::from_toml(bad, "c").is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn layers_merge_key_by_key_and_remember_sources() {
        let file =
            Layer::parse("blot_port = 9000\nuser = \"blot\"\n", "/etc/blotctl.toml").unwrap();
        let env = Layer::from_env(vars(&[
            ("BLOTCTL_USER", "deploy"),
            ("BLOTCTL_ROOT", "/x"),
            ("PATH", "/bin"),
        ]))
        .unwrap()
        .unwrap();
        let e = resolve(vec![file, env], None).unwrap();
        assert_eq!(e.settings.blot_port, 9000);
        assert_eq!(e.settings.user, "deploy");
        assert_eq!(e.sources["blot_port"], "/etc/blotctl.toml");
        assert_eq!(e.sources["user"], "environment");
        assert_eq!(e.sources["app_dir"], "default");
    }

    #[test]
    fn set_flags_are_the_top_layer_and_strict() {
        let env = Layer::from_env(vars(&[("BLOTCTL_BLOT_PORT", "9100")]))
            .unwrap()
            .unwrap();
        let flags = Layer::from_flags(&["blot_port=9200".into(), "user = deploy".into()])
            .unwrap()
            .unwrap();
        let e = resolve(vec![env, flags], None).unwrap();
        assert_eq!(e.settings.blot_port, 9200);
        assert_eq!(e.settings.user, "deploy");
        assert_eq!(e.sources["blot_port"], "--set");
        assert!(Layer::from_flags(&[]).unwrap().is_none());
        let err = Layer::from_flags(&["blot_prot=1".into()]).unwrap_err();
        assert!(
            format!("{err:#}").contains("did you mean `blot_port`"),
            "{err:#}"
        );
        assert!(Layer::from_flags(&["blot_port".into()]).is_err());
        let err = Layer::from_flags(&["blot_port=abc".into()]).unwrap_err();
        assert!(
            format!("{err:#}").contains(
                "--set \"blot_port=abc\": string \"abc\" is not a whole number from 0 to 65535"
            ),
            "{err:#}"
        );
    }

    #[test]
    fn env_values_are_typed() {
        let l = Layer::from_env(vars(&[
            ("BLOTCTL_SITES", "[\"a.b\"]"),
            ("BLOTCTL_BLOT_PORT", "81"),
        ]))
        .unwrap()
        .unwrap();
        let e = resolve(vec![l], None).unwrap();
        assert_eq!(e.settings.sites, vec!["a.b"]);
        assert_eq!(e.settings.blot_port, 81);
        assert!(Layer::from_env(vars(&[("BLOTCTL_BLOT_PROT", "81")]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn init_file_sets_only_what_differs_and_its_comments_are_the_defaults() {
        let s = Settings {
            user: "deploy".into(),
            blot_port: 9000,
            ..Default::default()
        };
        let text = commented_toml(&s).unwrap();
        let layer = Layer::parse(&text, "/etc/blotctl.toml").unwrap();
        let live: Vec<&String> = layer.table.keys().collect();
        assert_eq!(live, ["blot_port", "user"], "{text}");
        assert_eq!(Settings::from_toml(&text, "f").unwrap(), s);
        assert!(text.contains("#app_dir = \"/var/www/blot\"\n"), "{text}");
        assert!(
            text.contains("environment variables <\n# --set KEY=VALUE flags."),
            "{text}"
        );
        // Every commented-out line, uncommented, is the default again.
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(kv) if !kv.starts_with(' ') && kv.contains(" = ") => kv,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            Layer::parse(&uncommented, "f").unwrap().table.len(),
            known_keys().len()
        );
        assert_eq!(Settings::from_toml(&uncommented, "f").unwrap(), s);
    }

    #[test]
    fn partial_file_keeps_defaults() {
        let s = Settings::from_toml("blot_port = 9000\n", "c").unwrap();
        assert_eq!(s.blot_port, 9000);
        assert_eq!(s.user, "ec2-user");
    }
}
