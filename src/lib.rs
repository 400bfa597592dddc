//! rondo: books sales meetings for website visitors. This file wires the parts together: configuration,
//! the database, the calendar, mail and webhook adapters, and the HTTP server. See DEVELOPERS.md for the
//! layout.

pub mod app;
pub mod calendar;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod outbox;
pub mod store;
pub mod usecase;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App as ActixApp, HttpServer};
use utoipa::OpenApi;

use crate::app::{App, Clock, SystemClock};
use crate::calendar::demo::DemoCalendars;
use crate::calendar::Calendars;
use crate::config::Config;
use crate::http::auth::{RateLimiter, TokenBook};
use crate::store::Store;

/// The running service: its bound port and the server future.
pub struct Application {
    port: u16,
    server: Server,
    pub app: App,
}

impl Application {
    /// Opens the database (applying migrations), binds the listener and builds the server.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let calendars = Calendars::new(Arc::new(DemoCalendars::new(&config.public_url)));
        Self::build_with(config, Arc::new(SystemClock), calendars).await
    }

    /// Builds with the given clock and calendar adapters (tests use their own).
    pub async fn build_with(
        config: Config,
        clock: Arc<dyn Clock>,
        calendars: Calendars,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen).map_err(|e| {
            anyhow::anyhow!("RONDO_LISTEN: cannot listen on {}: {e}", config.listen)
        })?;
        Self::build_on(config, listener, clock, calendars).await
    }

    /// Builds on a listener bound already (tests bind first, so `RONDO_PUBLIC_URL` can name its port).
    pub async fn build_on(
        config: Config,
        listener: TcpListener,
        clock: Arc<dyn Clock>,
        calendars: Calendars,
    ) -> anyhow::Result<Self> {
        let store = Store::connect(&config.database_url, config.sqlite_synchronous_full).await?;
        let port = listener.local_addr()?.port();
        let metrics = Arc::new(metrics::Metrics::new());
        let oauth = Arc::new(oauth::OAuth::new(
            &config,
            store.clone(),
            clock.clone(),
            metrics.clone(),
        )?);
        let google = config.google.as_ref().map(|g| {
            Arc::new(calendar::google::GoogleCalendar::new(
                &g.api_url,
                oauth.clone(),
            )) as Arc<dyn calendar::CalendarProvider>
        });
        let microsoft = match &config.microsoft {
            Some(m) => Some(Arc::new(calendar::microsoft::MicrosoftCalendar::new(
                &m.api_url,
                oauth.clone(),
            )?) as Arc<dyn calendar::CalendarProvider>),
            None => None,
        };
        let calendars = calendars
            .with_providers(google, microsoft)
            .metered(&metrics);
        let freebusy = Arc::new(calendar::cache::FreeBusyCache::new(
            config.freebusy_ttl_seconds,
            config.freebusy_stale_limit_seconds,
        ));
        let mail_from: lettre::message::Mailbox = config
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("RONDO_MAIL_FROM: {e}"))?;
        let mailer = mail::LettreMailer::new(
            config.smtp_url.as_deref(),
            config.smtp_ca_file.as_deref(),
            &config.mail_dir,
        )
        .map_err(|e| anyhow::anyhow!(e))?;
        // Webhooks only: no redirects followed and, unless RONDO_WEBHOOK_ALLOW_PRIVATE, no internal
        // destinations (see `outbox::webhook::client`). OAuth and calendars have their own clients.
        let webhooks =
            outbox::webhook_sender::HttpWebhookSender::new(config.webhook_allow_private)?;
        let app = App {
            keys: crypto::Keys::new(&config.secret_key),
            metrics,
            oauth,
            freebusy,
            store,
            calendars,
            config: Arc::new(config),
            clock,
            mailer: Arc::new(mailer),
            mail_from,
            templates: Arc::new(mail::render::environment()),
            webhooks: Arc::new(webhooks),
        };
        let server = serve(app.clone(), listener)?;
        Ok(Self { port, server, app })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until SIGTERM/SIGINT (actix stops accepting and lets in-flight requests finish).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn serve(app: App, listener: TcpListener) -> anyhow::Result<Server> {
    let workers = match app.config.http_workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    let tokens = web::Data::new(TokenBook::new(
        app.config.admin_token.as_deref(),
        app.config.chat_token.as_deref(),
    ));
    let limiter = web::Data::new(RateLimiter::default());
    let doc = web::Data::new(http::ApiDoc::openapi());
    let app = web::Data::new(app);
    let server = HttpServer::new(move || {
        ActixApp::new()
            .app_data(app.clone())
            .app_data(tokens.clone())
            .app_data(limiter.clone())
            .app_data(doc.clone())
            .app_data(web::PayloadConfig::new(http::extract::MAX_BODY))
            .wrap_fn(|req, srv| {
                let id = http::request_id::request_id_of(&req);
                http::request_id::scoped(id, actix_web::dev::Service::call(srv, req))
            })
            .configure(http::routes)
    })
    .workers(workers)
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Runs the service with this configuration until it is stopped.
pub async fn run(mut config: Config) -> anyhow::Result<()> {
    if config.secret_key_generated {
        match config.persist_dev_key()? {
            Some(file) => tracing::warn!(
                key_file = %file.display(),
                "RONDO_SECRET_KEY is not set: using a generated key kept beside the database (dev mode only)"
            ),
            None => tracing::warn!(
                "RONDO_SECRET_KEY is not set: using a random key for this run (dev mode only)"
            ),
        }
    }
    if config.run_mode == config::RunMode::Dev {
        tracing::warn!(
            "dev mode: agents without a connected calendar use simulated demo calendars"
        );
        if config.admin_token.as_deref() == Some(config::DEV_ADMIN_TOKEN) {
            tracing::warn!("dev mode: the well-known dev tokens are accepted (set RONDO_ADMIN_TOKEN / RONDO_CHAT_TOKEN)");
        }
    }
    let application = Application::build(config).await?;
    tracing::info!(port = application.port(), "rondo is listening");
    let housekeeping = tokio::spawn(housekeeping(application.app.clone()));
    let refresher = tokio::spawn(refresh_freebusy(application.app.clone()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(outbox::work_until_stopped(
        application.app.clone(),
        stopped,
        std::time::Duration::from_millis(500),
    ));
    // Serves until SIGTERM/SIGINT: actix stops accepting and finishes in-flight requests first.
    application.run_until_stopped().await?;
    housekeeping.abort();
    refresher.abort();
    // The worker finishes the job in hand and hands back the rest of its claims.
    let _ = stop.send(true);
    if tokio::time::timeout(std::time::Duration::from_secs(30), worker)
        .await
        .is_err()
    {
        tracing::warn!("outbox worker still busy after 30 s; its claims will expire");
    }
    tracing::info!("rondo stopped");
    Ok(())
}

/// Installs the global log subscriber: the `RONDO_LOG` filter (default `info,sqlx=warn`), lines as text or
/// JSON (`RONDO_LOG_FORMAT`). In JSON each line of a request carries its `request` span, whose `request_id`
/// is the answer's `x-request-id`.
pub fn init_logging(format: config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RONDO_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        config::LogFormat::Text => builder.init(),
        config::LogFormat::Json => builder.json().with_current_span(true).init(),
    }
}

/// `rondo token create --role …`: stores the token's hash and prints the token once.
pub async fn create_token(config: Config, role: config::TokenRole) -> anyhow::Result<()> {
    use base64::Engine;
    let store = Store::connect(&config.database_url, config.sqlite_synchronous_full).await?;
    let token = format!(
        "rondo_{}_{}",
        role.as_str(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    );
    store
        .insert_token(
            role.as_str(),
            &http::auth::hash_token(&token),
            chrono::Utc::now(),
        )
        .await?;
    println!("{token}");
    Ok(())
}

/// `rondo token list`: one line per stored token, `id role created_at` (tab-separated), oldest first.
pub async fn list_tokens(config: Config) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url, config.sqlite_synchronous_full).await?;
    let tokens = store.list_tokens().await?;
    if tokens.is_empty() {
        eprintln!("rondo: no stored tokens (bootstrap tokens from the environment are not listed)");
    }
    for t in tokens {
        println!(
            "{}\t{}\t{}",
            t.id,
            t.role,
            t.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
    Ok(())
}

/// `rondo token revoke <id>`: deletes the stored token; the service refuses it from the next request on
/// (tokens are looked up per request). An unknown id is an error and changes nothing.
pub async fn revoke_token(config: Config, id: &str) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url, config.sqlite_synchronous_full).await?;
    let id = id.trim();
    if !store.delete_token(id).await? {
        anyhow::bail!("no stored token has id `{id}` (see `rondo token list`)");
    }
    println!("token {id} revoked");
    Ok(())
}

/// Keeps the free/busy cache of agents in rotation warm: every half TTL (at least every 5 s), the agents
/// whose entries are due are re-read, concurrently. A cache only: losing it costs speed, not correctness.
async fn refresh_freebusy(app: App) {
    let half_ttl = (app.config.freebusy_ttl_seconds / 2).max(5);
    let mut every = tokio::time::interval(std::time::Duration::from_secs(half_ttl));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = usecase::availability::refresh_freebusy(&app).await {
            tracing::warn!(error = %e, "free/busy refresh failed");
        }
    }
}

/// Periodic clean-up, hourly: see `usecase::retention::purge_expired`. Safe to run on every replica.
async fn housekeeping(app: App) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        match usecase::retention::purge_expired(&app).await {
            Ok(p) if p.is_empty() => {}
            Ok(p) => tracing::info!(?p, "expired data purged"),
            Err(e) => tracing::warn!(error = %e, "could not purge expired data"),
        }
    }
}
