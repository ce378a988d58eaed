//! Media timeout: no RTP from the phone for `media_timeout` (or, before its first packet,
//! `media_timeout_initial`) ends the call with MEDIA_FAILURE (docs/OUTCOMES.md). While
//! the phone is not supposed to send (hold, `inactive`), the clock is suspended.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaTimeout {
    timeout: Duration,
    initial: Duration,
    /// The last RTP packet, or when watching (re)started.
    since: Instant,
    received_any: bool,
    suspended: bool,
    fired: bool,
}

impl MediaTimeout {
    pub fn new(now: Instant, timeout: Duration, initial: Duration) -> Self {
        Self {
            timeout,
            initial,
            since: now,
            received_any: false,
            suspended: false,
            fired: false,
        }
    }

    pub fn on_packet(&mut self, now: Instant) {
        self.since = now;
        self.received_any = true;
    }

    /// Suspends (phone on hold / not sending) or resumes watching; resuming restarts the
    /// clock so the phone gets the full timeout to start sending again.
    pub fn set_expecting(&mut self, now: Instant, expecting: bool) {
        if self.suspended && expecting {
            self.since = now;
        }
        self.suspended = !expecting;
    }

    /// Starts the clock again from `now` (the call was answered after ringing: the phone was
    /// not expected to send before).
    pub fn restart(&mut self, now: Instant) {
        self.since = now;
    }

    /// When [`Self::check`] could next fire.
    pub fn deadline(&self) -> Option<Instant> {
        if self.suspended || self.fired {
            return None;
        }
        let limit = if self.received_any {
            self.timeout
        } else {
            self.initial
        };
        Some(self.since + limit)
    }

    /// `Some(before_first_packet)` once, when the timeout expires.
    pub fn check(&mut self, now: Instant) -> Option<bool> {
        let deadline = self.deadline()?;
        if now < deadline {
            return None;
        }
        self.fired = true;
        Some(!self.received_any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_then_running_timeout_then_suspension() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = MediaTimeout::new(t0, s(15), s(30));
        assert_eq!(t.check(t0 + s(29)), None);
        t.on_packet(t0 + s(29));
        assert_eq!(t.check(t0 + s(43)), None);
        t.set_expecting(t0 + s(43), false);
        assert_eq!(t.check(t0 + s(100)), None);
        t.set_expecting(t0 + s(100), true);
        assert_eq!(t.deadline(), Some(t0 + s(115)));
        assert_eq!(t.check(t0 + s(115)), Some(false));
        assert_eq!(t.check(t0 + s(200)), None, "fires once");
        let mut silent = MediaTimeout::new(t0, s(15), s(30));
        assert_eq!(silent.check(t0 + s(30)), Some(true));
    }

    /// A call answered after a long ring gets the whole initial timeout from the answer.
    #[test]
    fn a_restart_counts_from_the_answer() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = MediaTimeout::new(t0, s(15), s(30));
        t.restart(t0 + s(100));
        assert_eq!(t.check(t0 + s(129)), None);
        assert_eq!(t.check(t0 + s(130)), Some(true));
    }
}
