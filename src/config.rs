//! Typed configuration from the environment (`RONDO_*`, and a `.env` file), with the defaults that
//! ../shared/API.md "Configuration" documents. `rondo --help` lists every variable. A value that does not
//! parse is a start-up error naming the variable.

use std::net::SocketAddr;

use base64::Engine;
use clap::{Parser, Subcommand, ValueEnum};

/// Bearer tokens accepted in dev mode when none are configured, so README's commands work as written.
pub const DEV_ADMIN_TOKEN: &str = "dev-admin-token";
pub const DEV_CHAT_TOKEN: &str = "dev-chat-token";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Dev,
    Prod,
}

#[derive(Debug, Parser)]
#[command(
    name = "rondo",
    version,
    about = "Books sales meetings for website visitors (round robin over agents' calendars)."
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Manage API bearer tokens stored (hashed) in the database.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token and print it once.
    Create {
        #[arg(long, value_enum)]
        role: TokenRole,
    },
    /// List stored tokens: id, role and creation time (never the token).
    List,
    /// Delete a stored token by its id (from `token list`); it is refused at once.
    Revoke {
        /// The token's id.
        id: String,
    },
}

/// How log lines are written: human-readable text, or one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenRole {
    Admin,
    Chat,
}

impl TokenRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRole::Admin => "admin",
            TokenRole::Chat => "chat",
        }
    }
}

/// Every setting, as read from the environment. See `Config` for the checked form.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "RONDO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Base of links and OAuth redirect URIs.
    #[arg(
        long,
        env = "RONDO_PUBLIC_URL",
        default_value = "http://localhost:8080"
    )]
    pub public_url: String,
    /// SQLite URL (the embedded default); a postgres:// URL selects PostgreSQL.
    #[arg(
        long,
        env = "RONDO_DATABASE_URL",
        default_value = "sqlite://rondo.db?mode=rwc"
    )]
    pub database_url: String,
    /// dev: generated secret key, dev tokens and demo calendars allowed; prod: all must be configured.
    #[arg(long = "env", env = "RONDO_ENV", default_value = "dev")]
    pub run_mode: String,
    /// Base64 of 32 bytes: token encryption and link signing. Generated (with a warning) in dev.
    #[arg(long, env = "RONDO_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Bootstrap admin bearer token (dev default: dev-admin-token).
    #[arg(long, env = "RONDO_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Bootstrap chat-service bearer token (dev default: dev-chat-token).
    #[arg(long, env = "RONDO_CHAT_TOKEN", hide_env_values = true)]
    pub chat_token: Option<String>,
    /// How stale cached free/busy may be when answering availability, in seconds.
    #[arg(long, env = "RONDO_FREEBUSY_TTL_SECONDS", default_value_t = 60)]
    pub freebusy_ttl_seconds: u64,
    /// Activities and reporting data older than this many days are purged.
    #[arg(long, env = "RONDO_RETENTION_DAYS", default_value_t = 90)]
    pub retention_days: u32,
    /// Chat API requests allowed per token per minute.
    #[arg(long, env = "RONDO_CHAT_RATE_PER_MINUTE", default_value_t = 600)]
    pub chat_rate_per_minute: u32,
    /// SQLite `synchronous` mode: FULL survives a power cut, NORMAL only a process crash.
    #[arg(long, env = "RONDO_SQLITE_SYNCHRONOUS", default_value = "full")]
    pub sqlite_synchronous: String,
    /// SMTP server for emails (smtp://host:25, smtp://host:587?tls=required, smtps://user:pass@host:465);
    /// unset: each email is written as an .eml file under RONDO_MAIL_DIR.
    #[arg(long, env = "RONDO_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// A PEM file of extra root certificates trusted for the SMTP server's TLS (a private relay's CA).
    #[arg(long, env = "RONDO_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<String>,
    /// Where emails go as .eml files when RONDO_SMTP_URL is unset.
    #[arg(long, env = "RONDO_MAIL_DIR", default_value = "./mail")]
    pub mail_dir: String,
    /// The From of every email.
    #[arg(
        long,
        env = "RONDO_MAIL_FROM",
        default_value = "rondo <no-reply@localhost>"
    )]
    pub mail_from: String,
    /// How long a worker's claim on a job lasts: a crashed worker's jobs run again after this.
    #[arg(long, env = "RONDO_JOB_LEASE_SECONDS", default_value_t = 120)]
    pub job_lease_seconds: u32,
    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "RONDO_HTTP_WORKERS", default_value_t = 0)]
    pub http_workers: usize,
    /// Google OAuth client id (from Google Cloud console); unset: no "Connect Google Calendar".
    #[arg(long, env = "RONDO_GOOGLE_CLIENT_ID")]
    pub google_client_id: Option<String>,
    /// Google OAuth client secret.
    #[arg(long, env = "RONDO_GOOGLE_CLIENT_SECRET", hide_env_values = true)]
    pub google_client_secret: Option<String>,
    /// Google's authorization endpoint.
    #[arg(
        long,
        env = "RONDO_GOOGLE_AUTH_URL",
        default_value = "https://accounts.google.com/o/oauth2/v2/auth"
    )]
    pub google_auth_url: String,
    /// Google's token endpoint.
    #[arg(
        long,
        env = "RONDO_GOOGLE_TOKEN_URL",
        default_value = "https://oauth2.googleapis.com/token"
    )]
    pub google_token_url: String,
    /// Base of the Google Calendar v3 API.
    #[arg(
        long,
        env = "RONDO_GOOGLE_API_URL",
        default_value = "https://www.googleapis.com/calendar/v3/"
    )]
    pub google_api_url: String,
    /// Microsoft (Entra ID) application (client) id; unset: no "Connect Outlook".
    #[arg(long, env = "RONDO_MICROSOFT_CLIENT_ID")]
    pub microsoft_client_id: Option<String>,
    /// Microsoft client secret.
    #[arg(long, env = "RONDO_MICROSOFT_CLIENT_SECRET", hide_env_values = true)]
    pub microsoft_client_secret: Option<String>,
    /// Microsoft identity authority; authorize and token URLs are {authority}/oauth2/v2.0/authorize|token.
    #[arg(
        long,
        env = "RONDO_MICROSOFT_AUTHORITY",
        default_value = "https://login.microsoftonline.com/common"
    )]
    pub microsoft_authority: String,
    /// Base of Microsoft Graph.
    #[arg(
        long,
        env = "RONDO_MICROSOFT_GRAPH_URL",
        default_value = "https://graph.microsoft.com/v1.0"
    )]
    pub microsoft_graph_url: String,
    /// How long an agent's connect link stays valid, in days.
    #[arg(long, env = "RONDO_CONNECT_LINK_DAYS", default_value_t = 7)]
    pub connect_link_days: u32,
    /// While a provider is down, cached free/busy is served up to this age (seconds); older: the agent
    /// is not offered.
    #[arg(
        long,
        env = "RONDO_FREEBUSY_STALE_LIMIT_SECONDS",
        default_value_t = 900
    )]
    pub freebusy_stale_limit_seconds: u64,
    /// Whether webhook URLs may point at loopback, private (RFC 1918, fc00::/7), link-local, CGNAT,
    /// multicast or unspecified addresses (true/false; default: true when RONDO_ENV=dev, false in prod).
    #[arg(
        long,
        env = "RONDO_WEBHOOK_ALLOW_PRIVATE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub webhook_allow_private: Option<bool>,
    /// Bearer token GET /metrics requires when set (unset: /metrics is open, like /healthz).
    #[arg(long, env = "RONDO_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Log lines as `text` or `json` (one object per line, with the request id of each request's lines).
    #[arg(long, env = "RONDO_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

/// One OAuth provider's client registration and endpoints (all URLs checked at start-up).
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub client_id: String,
    pub client_secret: String,
    pub auth_url: String,
    pub token_url: String,
    /// Calendar API base (Google: ends with `/`; Graph: no trailing `/`).
    pub api_url: String,
}

/// The checked configuration the service runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_url: String,
    pub database_url: String,
    pub run_mode: RunMode,
    pub secret_key: [u8; 32],
    pub secret_key_generated: bool,
    pub admin_token: Option<String>,
    pub chat_token: Option<String>,
    pub freebusy_ttl_seconds: u64,
    pub retention_days: u32,
    pub chat_rate_per_minute: u32,
    pub sqlite_synchronous_full: bool,
    pub http_workers: usize,
    pub job_lease_seconds: u32,
    pub smtp_url: Option<String>,
    pub smtp_ca_file: Option<String>,
    pub mail_dir: String,
    pub mail_from: String,
    pub google: Option<ProviderConfig>,
    pub microsoft: Option<ProviderConfig>,
    pub connect_link_days: u32,
    pub freebusy_stale_limit_seconds: u64,
    /// Webhooks may be delivered to internal addresses (see `domain::destination`): a dev machine's
    /// receivers are local; in prod an admin token must not become a scanner of rondo's network.
    pub webhook_allow_private: bool,
    /// The bearer token `GET /metrics` asks for; None: open.
    pub metrics_token: Option<String>,
    pub log_format: LogFormat,
}

/// A setting that cannot be used, named by its environment variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

impl Settings {
    /// Settings as a bare `rondo` sees them: the defaults, overridden by any `RONDO_*` in the environment.
    pub fn defaults() -> Self {
        Cli::parse_from(["rondo"]).settings
    }

    pub fn check(self) -> Result<Config, ConfigError> {
        let run_mode = match self.run_mode.trim().to_ascii_lowercase().as_str() {
            "dev" => RunMode::Dev,
            "prod" => RunMode::Prod,
            other => {
                return Err(err(
                    "RONDO_ENV",
                    format!("`{other}` is not `dev` or `prod`"),
                ))
            }
        };
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            err(
                "RONDO_LISTEN",
                format!("`{}` is not an address like 127.0.0.1:8080", self.listen),
            )
        })?;
        let public_url = self.public_url.trim_end_matches('/').to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(err(
                "RONDO_PUBLIC_URL",
                "must start with http:// or https://",
            ));
        }
        if !(self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres"))
        {
            return Err(err(
                "RONDO_DATABASE_URL",
                "must be a sqlite:// or postgres:// URL",
            ));
        }
        if self.database_url.starts_with("postgres") && self.secret_key.is_none() {
            // A generated key would differ per replica: links and sealed tokens one made, the others
            // could not read.
            return Err(err(
                "RONDO_SECRET_KEY",
                "is required with PostgreSQL: every replica must share it",
            ));
        }
        let (secret_key, secret_key_generated) = match &self.secret_key {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| err("RONDO_SECRET_KEY", "must be base64"))?;
                let key: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| err("RONDO_SECRET_KEY", "must decode to exactly 32 bytes"))?;
                (key, false)
            }
            None if run_mode == RunMode::Dev => (rand::random(), true),
            None => return Err(err("RONDO_SECRET_KEY", "is required when RONDO_ENV=prod")),
        };
        let non_empty = |v: Option<String>, var| match v {
            Some(t) if t.trim().len() < 8 => Err(err(var, "must be at least 8 characters")),
            other => Ok(other),
        };
        let mut admin_token = non_empty(self.admin_token, "RONDO_ADMIN_TOKEN")?;
        let mut chat_token = non_empty(self.chat_token, "RONDO_CHAT_TOKEN")?;
        let metrics_token = non_empty(self.metrics_token, "RONDO_METRICS_TOKEN")?;
        if run_mode == RunMode::Dev {
            admin_token.get_or_insert_with(|| DEV_ADMIN_TOKEN.to_owned());
            chat_token.get_or_insert_with(|| DEV_CHAT_TOKEN.to_owned());
        }
        if self.chat_rate_per_minute == 0 {
            return Err(err("RONDO_CHAT_RATE_PER_MINUTE", "must be at least 1"));
        }
        let log_format = match self.log_format.trim().to_ascii_lowercase().as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(err(
                    "RONDO_LOG_FORMAT",
                    format!("`{other}` is not `text` or `json`"),
                ))
            }
        };
        let sqlite_synchronous_full = match self.sqlite_synchronous.to_ascii_lowercase().as_str() {
            "full" => true,
            "normal" => false,
            _ => {
                return Err(err(
                    "RONDO_SQLITE_SYNCHRONOUS",
                    "must be `full` or `normal`",
                ))
            }
        };
        let google = provider(
            (self.google_client_id, "RONDO_GOOGLE_CLIENT_ID"),
            (self.google_client_secret, "RONDO_GOOGLE_CLIENT_SECRET"),
            [
                (self.google_auth_url, "RONDO_GOOGLE_AUTH_URL"),
                (self.google_token_url, "RONDO_GOOGLE_TOKEN_URL"),
                (self.google_api_url, "RONDO_GOOGLE_API_URL"),
            ],
        )?
        .map(|mut g| {
            if !g.api_url.ends_with('/') {
                g.api_url.push('/');
            }
            g
        });
        let authority = self.microsoft_authority.trim_end_matches('/').to_owned();
        let microsoft = provider(
            (self.microsoft_client_id, "RONDO_MICROSOFT_CLIENT_ID"),
            (
                self.microsoft_client_secret,
                "RONDO_MICROSOFT_CLIENT_SECRET",
            ),
            [
                (
                    format!("{authority}/oauth2/v2.0/authorize"),
                    "RONDO_MICROSOFT_AUTHORITY",
                ),
                (
                    format!("{authority}/oauth2/v2.0/token"),
                    "RONDO_MICROSOFT_AUTHORITY",
                ),
                (
                    self.microsoft_graph_url.trim_end_matches('/').to_owned(),
                    "RONDO_MICROSOFT_GRAPH_URL",
                ),
            ],
        )?;
        if let Some(m) = &microsoft {
            if !graph_host_allowed(&m.api_url) {
                return Err(err(
                    "RONDO_MICROSOFT_GRAPH_URL",
                    "must be a Microsoft Graph host (graph.microsoft.com and the national clouds) or a loopback address",
                ));
            }
        }
        if self.connect_link_days == 0 || self.connect_link_days > 90 {
            return Err(err("RONDO_CONNECT_LINK_DAYS", "must be 1 to 90"));
        }
        Ok(Config {
            listen,
            public_url,
            database_url: self.database_url,
            run_mode,
            secret_key,
            secret_key_generated,
            admin_token,
            chat_token,
            freebusy_ttl_seconds: self.freebusy_ttl_seconds,
            retention_days: self.retention_days,
            chat_rate_per_minute: self.chat_rate_per_minute,
            sqlite_synchronous_full,
            http_workers: self.http_workers,
            job_lease_seconds: self.job_lease_seconds.max(1),
            smtp_url: self.smtp_url.filter(|u| !u.trim().is_empty()),
            smtp_ca_file: self.smtp_ca_file.filter(|u| !u.trim().is_empty()),
            mail_dir: self.mail_dir,
            mail_from: self.mail_from,
            google,
            microsoft,
            connect_link_days: self.connect_link_days,
            freebusy_stale_limit_seconds: self.freebusy_stale_limit_seconds,
            webhook_allow_private: self
                .webhook_allow_private
                .unwrap_or(run_mode == RunMode::Dev),
            metrics_token,
            log_format,
        })
    }
}

impl Config {
    /// In dev mode without `RONDO_SECRET_KEY`, the generated key is kept in a file beside the SQLite
    /// database (`<db>.dev-key`, mode 0600), so visitor links and sealed calendar tokens survive a restart.
    /// Never used outside dev mode or when a key is configured. Returns the file used, if any.
    pub fn persist_dev_key(&mut self) -> std::io::Result<Option<std::path::PathBuf>> {
        if !self.secret_key_generated || self.run_mode != RunMode::Dev {
            return Ok(None);
        }
        let path = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))
            .map(|p| p.split('?').next().unwrap_or(p))
            .filter(|p| !p.is_empty() && !p.contains(":memory:"));
        let Some(db) = path else { return Ok(None) };
        let file = std::path::PathBuf::from(format!("{db}.dev-key"));
        let engine = &base64::engine::general_purpose::STANDARD;
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let key: [u8; 32] = engine
                    .decode(text.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("{} does not hold a base64 32-byte key", file.display()),
                        )
                    })?;
                self.secret_key = key;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Written whole to a temporary file, then renamed: a crash never leaves a half key.
                let tmp = file.with_extension("dev-key.tmp");
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create(true).truncate(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut f = options.open(&tmp)?;
                std::io::Write::write_all(&mut f, engine.encode(self.secret_key).as_bytes())?;
                f.sync_all()?;
                std::fs::rename(&tmp, &file)?;
            }
            Err(e) => return Err(e),
        }
        Ok(Some(file))
    }
}

/// A provider is configured when both its client id and secret are set; one without the other is an error.
fn provider(
    id: (Option<String>, &'static str),
    secret: (Option<String>, &'static str),
    urls: [(String, &'static str); 3],
) -> Result<Option<ProviderConfig>, ConfigError> {
    let id_value = id.0.filter(|v| !v.trim().is_empty());
    let secret_value = secret.0.filter(|v| !v.trim().is_empty());
    let (client_id, client_secret) = match (id_value, secret_value) {
        (None, None) => return Ok(None),
        (Some(i), Some(s)) => (i, s),
        (None, Some(_)) => return Err(err(id.1, format!("is required with {}", secret.1))),
        (Some(_), None) => return Err(err(secret.1, format!("is required with {}", id.1))),
    };
    for (url, var) in &urls {
        check_provider_url(url).map_err(|m| err(var, m))?;
    }
    let [(auth_url, _), (token_url, _), (api_url, _)] = urls;
    Ok(Some(ProviderConfig {
        client_id,
        client_secret,
        auth_url,
        token_url,
        api_url,
    }))
}

/// Provider URLs must be `https://`, except on loopback hosts (127.0.0.0/8, `localhost`, `[::1]`), where
/// `http://` is accepted (the local fakes in tests).
pub fn check_provider_url(raw: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(raw).map_err(|_| format!("`{raw}` is not a URL"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{raw}` must not carry a query or fragment"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(format!(
            "`{raw}` must use https:// (http:// only for loopback hosts)"
        )),
        _ => Err(format!("`{raw}` must be an https:// URL")),
    }
}

pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// graph-rs-sdk accepts only Microsoft's Graph hosts (it panics on others), or any host in its test mode,
/// which rondo uses for loopback fakes only.
fn graph_host_allowed(raw: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(raw) else {
        return false;
    };
    if is_loopback(&url) {
        return true;
    }
    const HOSTS: [&str; 5] = [
        "graph.microsoft.com",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
        "canary.graph.microsoft.com",
    ];
    matches!(url.host_str(), Some(h) if HOSTS.contains(&h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_dev_with_dev_tokens() {
        let c = Settings::defaults().check().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.run_mode, RunMode::Dev);
        assert_eq!(c.admin_token.as_deref(), Some(DEV_ADMIN_TOKEN));
        assert!(c.secret_key_generated);
        assert!(c.sqlite_synchronous_full);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let mut s = Settings::defaults();
        s.listen = "nope".into();
        assert_eq!(s.check().unwrap_err().var, "RONDO_LISTEN");
        let mut s = Settings::defaults();
        s.secret_key = Some("c2hvcnQ=".into());
        assert_eq!(s.check().unwrap_err().var, "RONDO_SECRET_KEY");
        let mut s = Settings::defaults();
        s.run_mode = "prod".into();
        assert_eq!(s.check().unwrap_err().var, "RONDO_SECRET_KEY");
    }

    #[test]
    fn private_webhook_destinations_default_to_allowed_in_dev_only() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let mut s = Settings::defaults();
        s.webhook_allow_private = None;
        assert!(s.clone().check().unwrap().webhook_allow_private);
        s.run_mode = "prod".into();
        s.secret_key = Some(key);
        assert!(!s.clone().check().unwrap().webhook_allow_private);
        s.webhook_allow_private = Some(true);
        assert!(s.clone().check().unwrap().webhook_allow_private);
        s.run_mode = "dev".into();
        s.webhook_allow_private = Some(false);
        assert!(!s.check().unwrap().webhook_allow_private);
        let parsed = |v: &str| {
            Cli::try_parse_from(["rondo", "--webhook-allow-private", v])
                .map(|c| c.settings.webhook_allow_private)
        };
        assert_eq!(parsed("false").unwrap(), Some(false));
        assert_eq!(parsed("1").unwrap(), Some(true));
        assert!(parsed("maybe").is_err());
    }

    #[test]
    fn the_log_format_is_text_or_json() {
        assert_eq!(
            Settings::defaults().check().unwrap().log_format,
            LogFormat::Text
        );
        let mut s = Settings::defaults();
        s.log_format = "JSON".into();
        assert_eq!(s.clone().check().unwrap().log_format, LogFormat::Json);
        s.log_format = "xml".into();
        assert_eq!(s.check().unwrap_err().var, "RONDO_LOG_FORMAT");
    }

    #[test]
    fn a_metrics_token_is_optional_but_not_trivial() {
        let mut s = Settings::defaults();
        s.metrics_token = None;
        assert_eq!(s.clone().check().unwrap().metrics_token, None);
        s.metrics_token = Some("short".into());
        assert_eq!(s.clone().check().unwrap_err().var, "RONDO_METRICS_TOKEN");
        s.metrics_token = Some("scrape-me-please".into());
        assert_eq!(
            s.check().unwrap().metrics_token.as_deref(),
            Some("scrape-me-please")
        );
    }

    #[test]
    fn a_generated_dev_key_is_kept_beside_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::defaults();
        s.database_url = format!("sqlite://{}/r.db?mode=rwc", dir.path().display());
        let mut first = s.clone().check().unwrap();
        let file = first.persist_dev_key().unwrap().unwrap();
        assert!(file.ends_with("r.db.dev-key"));
        let mut second = s.clone().check().unwrap();
        assert_ne!(first.secret_key, second.secret_key, "fresh random before");
        second.persist_dev_key().unwrap();
        assert_eq!(first.secret_key, second.secret_key, "the same key after");
        s.secret_key = Some(base64::engine::general_purpose::STANDARD.encode([3u8; 32]));
        let mut configured = s.check().unwrap();
        assert_eq!(configured.persist_dev_key().unwrap(), None);
        assert_eq!(configured.secret_key, [3u8; 32]);
    }

    #[test]
    fn provider_urls_must_be_https_except_loopback() {
        assert!(check_provider_url("https://oauth2.googleapis.com/token").is_ok());
        assert!(check_provider_url("http://127.0.0.1:9000/token").is_ok());
        assert!(check_provider_url("http://127.8.0.1:9000/token").is_ok());
        assert!(check_provider_url("http://localhost:9000/x").is_ok());
        assert!(check_provider_url("http://[::1]:9000/x").is_ok());
        assert!(check_provider_url("http://example.com/token").is_err());
        assert!(check_provider_url("ftp://example.com/token").is_err());
        assert!(check_provider_url("not a url").is_err());
        let mut s = Settings::defaults();
        s.google_client_id = Some("id".into());
        s.google_client_secret = Some("secret".into());
        s.google_token_url = "http://evil.example/token".into();
        assert_eq!(s.check().unwrap_err().var, "RONDO_GOOGLE_TOKEN_URL");
        let mut s = Settings::defaults();
        s.microsoft_client_id = Some("id".into());
        assert_eq!(s.check().unwrap_err().var, "RONDO_MICROSOFT_CLIENT_SECRET");
        let mut s = Settings::defaults();
        s.microsoft_client_id = Some("id".into());
        s.microsoft_client_secret = Some("secret".into());
        s.microsoft_graph_url = "https://graph.example.com/v1.0".into();
        assert_eq!(s.check().unwrap_err().var, "RONDO_MICROSOFT_GRAPH_URL");
    }
}
