//! Settings: the runbook's defaults, optionally overridden by a TOML file, validated so that
//! no value can break out of the job file, sudoers line or exec line it lands in.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Where the default config file lives on the box (resolved under `--root`).
pub const DEFAULT_CONFIG: &str = "/etc/blotctl.toml";

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The Blot checkout; logs live in `<app_dir>/logs`.
    pub app_dir: String,
    /// The app's entry point, relative to `app_dir`.
    pub app_main: String,
    /// The user the app runs as (`sudo -u`), and owner of the log files.
    pub user: String,
    /// node binary.
    pub node: String,
    /// Port the Blot app listens on (127.0.0.1).
    pub blot_port: u16,
    /// HTTP path that answers when Blot is healthy.
    pub health_path: String,
    /// Port nginx listens on.
    pub nginx_port: u16,
    /// Site names that must resolve to `hosts_address` in /etc/hosts.
    pub sites: Vec<String>,
    /// Address for the site names.
    pub hosts_address: String,
    /// redis-server binary.
    pub redis_server: String,
    /// The box's redis config (read, never changed: it decides `expect` and the port).
    pub redis_config: String,
    /// Init script names tried, in order, for the redis SysV service.
    pub redis_services: Vec<String>,
    /// nginx binary and config.
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
    /// How long a started job must stay running before it counts, in milliseconds (a job
    /// whose process dies at once shows start/running first).
    pub start_settle_ms: u64,
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
            node: "/usr/bin/node".into(),
            blot_port: 8080,
            health_path: "/health".into(),
            nginx_port: 80,
            sites: vec!["blot.im".into(), "www.blot.im".into()],
            hosts_address: "127.0.0.1".into(),
            redis_server: "/usr/sbin/redis-server".into(),
            redis_config: "/etc/redis.conf".into(),
            redis_services: vec!["redis".into(), "redis-server".into()],
            nginx: "/usr/sbin/nginx".into(),
            nginx_config: "/etc/nginx/nginx.conf".into(),
            monit: "/usr/bin/monit".into(),
            monit_rc: "/etc/monit.rc".into(),
            monit_interval: 30,
            monit_start_delay: 60,
            start_program: "/sbin/start".into(),
            stop_program: "/sbin/stop".into(),
            start_timeout: 30,
            start_settle_ms: 2000,
            app_repo_remote: "origin".into(),
            app_repo_branch: "master".into(),
            log_rotate: "daily".into(),
            log_keep: 14,
            thp_never: true,
            overcommit_memory: true,
        }
    }
}

impl Settings {
    /// Parse one TOML document over the defaults and validate it (no layering).
    pub fn from_toml(text: &str, origin: &str) -> Result<Settings> {
        Ok(resolve(vec![Layer::parse(text, origin)?])?.settings)
    }

    /// Refuse any value that could break out of where it is rendered.
    pub fn validate(&self) -> Result<()> {
        for (key, val) in [
            ("app_dir", &self.app_dir),
            ("node", &self.node),
            ("redis_server", &self.redis_server),
            ("redis_config", &self.redis_config),
            ("nginx", &self.nginx),
            ("nginx_config", &self.nginx_config),
            ("monit", &self.monit),
            ("monit_rc", &self.monit_rc),
            ("start_program", &self.start_program),
            ("stop_program", &self.stop_program),
        ] {
            absolute_path(key, val)?;
        }
        safe_word("app_main", &self.app_main)?;
        if self.app_main.starts_with('/') || self.app_main.split('/').any(|c| c == "..") {
            bail!(
                "app_main = {:?}: must be a path inside app_dir",
                self.app_main
            );
        }
        if !(self.health_path.starts_with('/')) {
            bail!("health_path = {:?}: must start with /", self.health_path);
        }
        safe_word("health_path", &self.health_path)?;
        user_name("user", &self.user)?;
        for (key, port) in [
            ("blot_port", self.blot_port),
            ("nginx_port", self.nginx_port),
        ] {
            if port == 0 {
                bail!("{key} = 0: a port must be 1..=65535");
            }
        }
        if self.blot_port == self.nginx_port {
            bail!("blot_port and nginx_port are both {}", self.blot_port);
        }
        if self.hosts_address.parse::<std::net::IpAddr>().is_err() {
            bail!(
                "hosts_address = {:?}: not an IP address",
                self.hosts_address
            );
        }
        if self.sites.is_empty() {
            bail!("sites: at least one site name is needed");
        }
        for s in &self.sites {
            host_name("sites", s)?;
        }
        if self.redis_services.is_empty() {
            bail!("redis_services: at least one init script name is needed");
        }
        for s in &self.redis_services {
            service_name("redis_services", s)?;
        }
        if self.monit_interval == 0 {
            bail!("monit_interval must be at least 1 second");
        }
        if self.start_timeout == 0 {
            bail!("start_timeout must be at least 1 second");
        }
        git_name("app_repo_remote", &self.app_repo_remote)?;
        git_name("app_repo_branch", &self.app_repo_branch)?;
        if !["daily", "weekly", "monthly"].contains(&self.log_rotate.as_str()) {
            bail!(
                "log_rotate = {:?}: must be daily, weekly or monthly",
                self.log_rotate
            );
        }
        if !(1..=1000).contains(&self.log_keep) {
            bail!("log_keep = {}: must be 1..=1000", self.log_keep);
        }
        Ok(())
    }

    pub fn logs_dir(&self) -> String {
        format!("{}/logs", self.app_dir)
    }

    pub fn log_files(&self) -> Vec<String> {
        ["app", "sys", "monit"]
            .iter()
            .map(|n| format!("{}/{n}.log", self.logs_dir()))
            .collect()
    }
}

/// One source of settings, e.g. a config file or the environment.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Where the values came from, as `blotctl config` shows it.
    pub origin: String,
    pub table: toml::Table,
}

/// Environment variables that are not settings.
const RESERVED_ENV: &[&str] = &[
    "BLOTCTL_ROOT",
    "BLOTCTL_CONFIG",
    "BLOTCTL_CRASH_AT",
    "BLOTCTL_CRASH_RUNS",
    "BLOTCTL_SSH_OPTS",
];

impl Layer {
    /// A TOML document; unknown keys are errors with a did-you-mean.
    pub fn parse(text: &str, origin: &str) -> Result<Layer> {
        let table: toml::Table =
            toml::from_str(text).with_context(|| format!("invalid config file {origin}"))?;
        for key in table.keys() {
            check_key(key).with_context(|| format!("invalid config file {origin}"))?;
        }
        Ok(Layer {
            origin: origin.into(),
            table,
        })
    }

    /// `BLOTCTL_<KEY>` variables (e.g. `BLOTCTL_BLOT_PORT=9000`); a value that is not a
    /// TOML value (a number, `true`, `["a", "b"]`, a quoted string) is taken as a string.
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Result<Option<Layer>> {
        let mut table = toml::Table::new();
        for (name, value) in vars {
            let Some(key) = name.strip_prefix("BLOTCTL_") else {
                continue;
            };
            if RESERVED_ENV.contains(&name.as_str()) {
                continue;
            }
            if name.starts_with("BLOTCTL_BUILD_") {
                continue; // set by the build (`cargo test` passes them on)
            }
            let key = key.to_ascii_lowercase();
            if let Err(e) = check_key(&key) {
                // Other programs' variables may share the prefix: warn, do not fail.
                eprintln!("warning: ignoring environment variable {name}: {e}");
                continue;
            }
            table.insert(key, loose_value(value));
        }
        Ok((!table.is_empty()).then(|| Layer {
            origin: "environment".into(),
            table,
        }))
    }

    /// `--set KEY=VALUE` flags, the top layer. Unlike the environment's, an unknown key
    /// here is an error: the operator typed it for blotctl.
    pub fn from_flags(sets: &[String]) -> Result<Option<Layer>> {
        let mut table = toml::Table::new();
        for kv in sets {
            let Some((key, value)) = kv.split_once('=') else {
                bail!("--set {kv:?}: expected KEY=VALUE (`blotctl config` lists the keys)");
            };
            let key = key.trim();
            let value = loose_value(value.trim().to_string());
            check_key(key)
                .and_then(|()| check_type(key, &value))
                .with_context(|| format!("--set {kv:?}"))?;
            table.insert(key.to_string(), value);
        }
        Ok((!table.is_empty()).then(|| Layer {
            origin: "--set".into(),
            table,
        }))
    }
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
        .map_err(|e| anyhow::anyhow!("{}", e.message()))
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
pub fn resolve(layers: Vec<Layer>) -> Result<Effective> {
    let mut merged = toml::Table::try_from(Settings::default()).expect("settings serialize");
    let mut sources: std::collections::BTreeMap<String, String> = merged
        .keys()
        .map(|k| (k.clone(), "default".to_string()))
        .collect();
    for layer in &layers {
        for (k, v) in &layer.table {
            merged.insert(k.clone(), v.clone());
            sources.insert(k.clone(), layer.origin.clone());
        }
    }
    let settings: Settings = merged.try_into().map_err(|e: toml::de::Error| {
        let origins: Vec<&str> = layers.iter().map(|l| l.origin.as_str()).collect();
        anyhow::anyhow!("invalid config ({}): {}", origins.join(", "), e.message())
    })?;
    settings.validate().with_context(|| {
        let origins: Vec<&str> = layers.iter().map(|l| l.origin.as_str()).collect();
        match origins[..] {
            [file] if file != "environment" && file != "--set" => {
                format!("invalid config file {file}")
            }
            _ => format!("invalid config (from {})", origins.join(", ")),
        }
    })?;
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
    ("node", "The node binary."),
    ("blot_port", "Port the Blot app listens on (127.0.0.1)."),
    (
        "health_path",
        "HTTP path that answers when Blot is healthy (monit and verify probe it).",
    ),
    ("nginx_port", "Port nginx listens on."),
    (
        "sites",
        "Site names that must resolve to hosts_address in /etc/hosts.",
    ),
    ("hosts_address", "Address for the site names."),
    ("redis_server", "The redis-server binary."),
    (
        "redis_config",
        "The box's redis config: read, never written (decides `expect` and the PING port).",
    ),
    (
        "redis_services",
        "SysV init script names tried, in order, for redis.",
    ),
    ("nginx", "The nginx binary."),
    (
        "nginx_config",
        "nginx's configuration (verify checks its upstreams).",
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
        "How long a started job must stay running to count, in milliseconds.",
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

fn service_name(key: &str, val: &str) -> Result<()> {
    let ok = !val.is_empty()
        && val
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !val.starts_with('.');
    if !ok {
        bail!("{key}: {val:?} is not a valid init script name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            assert!(Settings::from_toml(bad, "c").is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn layers_merge_key_by_key_and_remember_sources() {
        let file =
            Layer::parse("blot_port = 9000\nuser = \"blot\"\n", "/etc/blotctl.toml").unwrap();
        let env = Layer::from_env([
            ("BLOTCTL_USER".to_string(), "deploy".to_string()),
            ("BLOTCTL_ROOT".to_string(), "/x".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ])
        .unwrap()
        .unwrap();
        let e = resolve(vec![file, env]).unwrap();
        assert_eq!(e.settings.blot_port, 9000);
        assert_eq!(e.settings.user, "deploy");
        assert_eq!(e.sources["blot_port"], "/etc/blotctl.toml");
        assert_eq!(e.sources["user"], "environment");
        assert_eq!(e.sources["app_dir"], "default");
    }

    #[test]
    fn set_flags_are_the_top_layer_and_strict() {
        let env = Layer::from_env([("BLOTCTL_BLOT_PORT".to_string(), "9100".to_string())])
            .unwrap()
            .unwrap();
        let flags = Layer::from_flags(&["blot_port=9200".into(), "user = deploy".into()])
            .unwrap()
            .unwrap();
        let e = resolve(vec![env, flags]).unwrap();
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
            format!("{err:#}").contains("--set \"blot_port=abc\": invalid type: string \"abc\""),
            "{err:#}"
        );
    }

    #[test]
    fn env_values_are_typed() {
        let l = Layer::from_env([
            ("BLOTCTL_SITES".into(), "[\"a.b\"]".into()),
            ("BLOTCTL_BLOT_PORT".into(), "81".into()),
        ])
        .unwrap()
        .unwrap();
        let e = resolve(vec![l]).unwrap();
        assert_eq!(e.settings.sites, vec!["a.b"]);
        assert_eq!(e.settings.blot_port, 81);
        assert!(Layer::from_env([("BLOTCTL_BLOT_PROT".into(), "81".into())])
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
