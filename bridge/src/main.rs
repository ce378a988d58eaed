//! `sipbridge --config FILE` runs the bridge; `sipbridge check-config FILE` validates a config.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sipbridge::sockets::BoundSockets;

#[derive(Parser)]
#[command(version, about = "SIP-to-LiveKit bridge")]
struct Cli {
    /// The YAML configuration file (see config/examples/).
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a configuration file and print a summary of it.
    CheckConfig { file: PathBuf },
}

/// Exit status for a configuration the bridge refuses (usage errors share it, as in clap).
const EXIT_BAD_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (file, check_only) = match (cli.command, cli.config) {
        (Some(Command::CheckConfig { file }), _) => (file, true),
        (None, Some(file)) => (file, false),
        (None, None) => {
            eprintln!("sipbridge: --config FILE is required (or: sipbridge check-config FILE)");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let config = match sipbridge_config::load_file(&file) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    if check_only {
        println!("{}: OK", file.display());
        print!("{}", sipbridge::summary::summary(&config));
        for warning in config.warnings() {
            println!("warning: {warning}");
        }
        return ExitCode::SUCCESS;
    }
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sipbridge: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: sipbridge_config::Config) -> anyhow::Result<()> {
    sipbridge::logging::init(&config.logging)?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async {
        let sockets = BoundSockets::bind(&config).await?;
        sipbridge::run(Arc::new(config), sockets, shutdown_signal()).await?;
        Ok(())
    })
}

/// Resolves on the first SIGINT or SIGTERM. A second one exits at once, skipping the drain.
async fn shutdown_signal() {
    let signal = first_signal().await;
    tracing::info!(
        signal,
        "shutting down; send it again to exit without draining"
    );
    tokio::spawn(async {
        let signal = first_signal().await;
        tracing::warn!(signal, "second signal: exiting without draining");
        std::process::exit(130);
    });
}

async fn first_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the process can still be killed; never shut down on our own.
        tracing::error!("cannot install SIGTERM/SIGINT handlers");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
