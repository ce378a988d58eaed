//! Configuration errors: every problem names the key path and where the value came from
//! (file line:column, or the environment variable that overrode it).

use std::fmt;

use crate::source_map::Position;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// One line per problem, each `file:line:column: key.path: message`.
    #[error("{}", ProblemList(.0))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// The problems found, empty when the file could not be read at all.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid(problems) => problems,
        }
    }
}

/// One thing wrong with the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub origin: Origin,
    /// Key path, e.g. `inbound_trunks[0].allowed_addresses[1]`; empty for the whole document.
    pub key: String,
    pub message: String,
}

/// Where the offending value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    File {
        file: String,
        position: Option<Position>,
    },
    Env {
        var: &'static str,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File {
                file,
                position: Some(p),
            } => write!(f, "{file}:{}:{}: ", p.line, p.column)?,
            Origin::File {
                file,
                position: None,
            } => write!(f, "{file}: ")?,
            Origin::Env { var } => write!(f, "environment variable {var}: ")?,
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            problem.fmt(f)?;
        }
        Ok(())
    }
}
