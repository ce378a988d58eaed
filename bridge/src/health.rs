//! Readiness as `/health` reports it: 200 when taking calls, 503 while starting or draining, so a
//! load balancer sends new calls elsewhere (and 429 while `limits:` would refuse one:
//! `http.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    Starting = 0,
    Ready = 1,
    Draining = 2,
}

impl Readiness {
    pub fn as_str(self) -> &'static str {
        match self {
            Readiness::Starting => "starting",
            Readiness::Ready => "ready",
            Readiness::Draining => "draining",
        }
    }
}

/// Shared readiness; clones see the same state.
#[derive(Clone, Debug, Default)]
pub struct Health(Arc<AtomicU8>);

impl Health {
    pub fn get(&self) -> Readiness {
        match self.0.load(Ordering::Acquire) {
            1 => Readiness::Ready,
            2 => Readiness::Draining,
            _ => Readiness::Starting,
        }
    }

    pub fn set(&self, readiness: Readiness) {
        self.0.store(readiness as u8, Ordering::Release);
    }
}
