//! The server's own subcommands: `serve` runs it until SIGINT or SIGTERM, `migrate` brings the
//! database schema up to date and exits.

use std::process::ExitCode;

use super::EXIT_ERROR;
use super::args::{MigrateArgs, ServeArgs};
use crate::config::Config;

/// `elevator serve`.
pub(super) async fn serve(args: ServeArgs) -> ExitCode {
    // The configuration first: it says how to log.
    let mut config = match Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let tracing = match crate::telemetry::init_tracing(config.log.format) {
        Ok(tracing) => tracing,
        Err(error) => {
            eprintln!("error: setting up tracing: {error:#}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(http_listen) = args.http_listen {
        config.http_listen = Some(http_listen);
    }
    if let Some(url) = args.database_url {
        config.database_url = Some(url);
    }
    if let Some(policy) = args.policy {
        config.policy_file = Some(policy);
    }
    if args.no_migrate {
        config.database.migrate_on_start = false;
    }
    let served =
        match crate::server::Server::build(config, std::sync::Arc::new(crate::clock::SystemClock))
            .await
        {
            Ok(server) => server.run(shutdown_signal()).await,
            Err(error) => Err(error),
        };
    // Spans still batched are exported before exit; the flush blocks, so not on a worker.
    let _ = tokio::task::spawn_blocking(move || tracing.shutdown()).await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `elevator migrate`.
pub(super) async fn migrate(args: MigrateArgs) -> ExitCode {
    // Progress to standard error; the outcome, on standard output, is for scripts.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour only on a terminal: a Job's log or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut config = match Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    if let Some(url) = args.database_url {
        config.database_url = Some(url);
    }
    match crate::server::migrate_database(&config).await {
        Ok(applied) if applied.is_empty() => {
            println!("the database schema is current");
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            println!("applied {}", applied.join(", "));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
