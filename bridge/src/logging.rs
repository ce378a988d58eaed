//! Log output: human-readable text or one JSON object per line, at the configured level unless
//! `RUST_LOG` gives a full filter.

use std::io::IsTerminal;

use sipbridge_config::Logging;
use tracing_subscriber::EnvFilter;

use crate::Error;

pub fn init(config: &Logging) -> Result<(), Error> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => {
            EnvFilter::try_new(&directives).map_err(|e| {
                Error::Logging(format!(
                    "RUST_LOG={directives:?} is not a valid filter: {e}"
                ))
            })?
        }
        _ => EnvFilter::new(config.level.as_str()),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = if config.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    installed.map_err(|e| Error::Logging(e.to_string()))
}
