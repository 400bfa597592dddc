//! The `rondo` binary: reads configuration and runs the service (or a `token` command).

use clap::Parser;
use rondo::config::{Cli, Command, TokenAction};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let config = match cli.settings.check() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rondo: configuration error: {e}");
            std::process::exit(2);
        }
    };
    rondo::init_logging(config.log_format);
    match cli.command {
        None | Some(Command::Serve) => rondo::run(config).await,
        Some(Command::Token {
            action: TokenAction::Create { role },
        }) => rondo::create_token(config, role).await,
        Some(Command::Token {
            action: TokenAction::List,
        }) => rondo::list_tokens(config).await,
        Some(Command::Token {
            action: TokenAction::Revoke { id },
        }) => {
            if let Err(e) = rondo::revoke_token(config, &id).await {
                eprintln!("rondo: {e:#}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
