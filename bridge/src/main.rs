//! `sipbridge --config FILE` runs the bridge; `sipbridge check-config FILE` validates a config.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sipbridge::sockets::BoundSockets;
use tokio::signal::unix::{Signal, SignalKind, signal};

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
        // Installed before anything else, so a signal is never met by the default action
        // (immediate death) once the service has announced itself ready.
        let signals = Signals::install().context("installing SIGTERM/SIGINT handlers")?;
        let sockets = BoundSockets::bind(&config).await?;
        sipbridge::run(Arc::new(config), sockets, shutdown_on(signals)).await?;
        Ok(())
    })
}

struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// Resolves on the first SIGINT or SIGTERM. A second one exits at once, skipping the drain.
async fn shutdown_on(mut signals: Signals) {
    let signal = signals.next().await;
    tracing::info!(
        signal,
        "shutting down; send it again to exit without draining"
    );
    tokio::spawn(async move {
        let signal = signals.next().await;
        tracing::warn!(signal, "second signal: exiting without draining");
        std::process::exit(130);
    });
}
