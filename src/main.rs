//! The `rondo` binary: reads configuration and runs the service (or a `token` command).

use clap::Parser;
use rondo::config::{Cli, Command, TokenAction};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RONDO_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let config = match cli.settings.check() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rondo: configuration error: {e}");
            std::process::exit(2);
        }
    };
    match cli.command {
        None | Some(Command::Serve) => rondo::run(config).await,
        Some(Command::Token {
            action: TokenAction::Create { role },
        }) => rondo::create_token(config, role).await,
    }
}
