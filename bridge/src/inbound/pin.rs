//! The PIN of a `direct` rule with `pin`: the call is answered, the caller hears dial tone
//! and keys the PIN (ending with `#`, or just its digits); a wrong PIN gets a second of busy
//! tone and another try, three in all. Only then does the caller join the room.
//!
//! Standalone, the bridge knows the PIN. In cluster mode livekit-server does: the caller
//! ends the PIN with `#` and the keys go to livekit-server to be checked.
//!
//! [`PinEntry`] decides, sans-IO, on the caller's clock; `inbound::setup` runs it.

use std::time::{Duration, Instant};

use sipbridge_signaling::outcome::PinEnd;

const ATTEMPTS: usize = 3;
const BUSY_BETWEEN_TRIES: Duration = Duration::from_secs(1);

/// What the caller should hear now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Prompt {
    Dial,
    Busy,
    Silence,
}

/// Who knows the PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PinCheck {
    /// We do: this one.
    Local(String),
    /// livekit-server does: what the caller keyed goes there.
    Remote,
}

/// The longest PIN sent to be checked: keys beyond it are a wrong PIN, not a longer one.
const MAX_REMOTE_PIN: usize = 32;

/// Where PIN entry stands after a key or a timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PinStep {
    /// Keep listening; play `Prompt` if it changed.
    Waiting(Option<Prompt>),
    /// Have these keys checked ([`PinCheck::Remote`]), then [`PinEntry::checked`].
    Check(String),
    /// The right PIN: the caller may join the room.
    Entered,
    /// No more tries or no more time.
    Over(PinEnd),
}

/// PIN entry, sans-IO: keys and the clock in, prompts and a verdict out.
#[derive(Debug)]
pub(super) struct PinEntry {
    pin: PinCheck,
    entered: String,
    /// Keys sent to be checked; no more keys count until the verdict.
    checking: bool,
    failures: usize,
    deadline: Instant,
    /// After a wrong PIN: when the dial tone comes back.
    reprompt_at: Option<Instant>,
}

impl PinEntry {
    /// Starts collecting at `now`, with dial tone, for at most `timeout`.
    pub(super) fn new(pin: PinCheck, now: Instant, timeout: Duration) -> Self {
        Self {
            pin,
            entered: String::new(),
            checking: false,
            failures: 0,
            deadline: now + timeout,
            reprompt_at: None,
        }
    }

    /// When [`PinEntry::handle_timeout`] is next due.
    pub(super) fn poll_timeout(&self) -> Instant {
        self.reprompt_at
            .map_or(self.deadline, |at| at.min(self.deadline))
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) -> PinStep {
        if now >= self.deadline {
            return PinStep::Over(PinEnd::Timeout);
        }
        if self.reprompt_at.is_some_and(|at| now >= at) {
            self.reprompt_at = None;
            return PinStep::Waiting(Some(Prompt::Dial));
        }
        PinStep::Waiting(None)
    }

    /// A key the caller pressed (RFC 4733 or SIP INFO).
    pub(super) fn handle_key(&mut self, now: Instant, key: char) -> PinStep {
        if self.checking {
            return PinStep::Waiting(None);
        }
        let PinCheck::Local(pin) = &self.pin else {
            return self.remote_key(now, key);
        };
        if key == '#' && self.entered.is_empty() {
            // Nothing keyed: the `#` that ends a PIN already judged when its last digit came
            // ("1111#": wrong at the fourth key), or a stray key. Not another try.
            return PinStep::Waiting(None);
        }
        if key != '#' {
            self.entered.push(key);
            if self.entered.len() < pin.len() {
                return PinStep::Waiting(Some(Prompt::Silence));
            }
        }
        if self.entered == *pin {
            return PinStep::Entered;
        }
        self.wrong(now)
    }

    /// A key of a PIN livekit-server checks: `#` sends what came before.
    fn remote_key(&mut self, now: Instant, key: char) -> PinStep {
        if key != '#' {
            self.entered.push(key);
            if self.entered.len() > MAX_REMOTE_PIN {
                return self.wrong(now);
            }
            return PinStep::Waiting(Some(Prompt::Silence));
        }
        if self.entered.is_empty() {
            return PinStep::Waiting(None);
        }
        self.checking = true;
        PinStep::Check(std::mem::take(&mut self.entered))
    }

    /// The verdict on the keys of [`PinStep::Check`].
    pub(super) fn checked(&mut self, now: Instant, right: bool) -> PinStep {
        self.checking = false;
        if right {
            return PinStep::Entered;
        }
        self.wrong(now)
    }

    fn wrong(&mut self, now: Instant) -> PinStep {
        self.entered.clear();
        self.failures += 1;
        if self.failures == ATTEMPTS {
            return PinStep::Over(PinEnd::Wrong);
        }
        self.reprompt_at = Some(now + BUSY_BETWEEN_TRIES);
        PinStep::Waiting(Some(Prompt::Busy))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn local(pin: &str) -> PinCheck {
        PinCheck::Local(pin.to_owned())
    }

    fn keys(entry: &mut PinEntry, now: Instant, keys: &str) -> Vec<PinStep> {
        keys.chars().map(|key| entry.handle_key(now, key)).collect()
    }

    #[test]
    fn the_right_pin_with_or_without_hash() {
        let now = Instant::now();
        let mut entry = PinEntry::new(local("1234"), now, 30 * SECOND);
        assert_eq!(
            keys(&mut entry, now, "1234").last(),
            Some(&PinStep::Entered)
        );
        let mut entry = PinEntry::new(local("1234"), now, 30 * SECOND);
        assert_eq!(
            keys(&mut entry, now, "1234#").last(),
            Some(&PinStep::Entered)
        );
    }

    #[test]
    fn a_wrong_pin_gets_busy_tone_then_dial_tone_and_three_end_the_call() {
        let start = Instant::now();
        let mut entry = PinEntry::new(local("42"), start, 30 * SECOND);
        let busy = PinStep::Waiting(Some(Prompt::Busy));
        assert_eq!(keys(&mut entry, start, "13").last(), Some(&busy));
        assert_eq!(entry.poll_timeout(), start + SECOND);
        let dial = PinStep::Waiting(Some(Prompt::Dial));
        assert_eq!(entry.handle_timeout(start + SECOND), dial);
        // A short PIN ended by # is wrong too.
        assert_eq!(keys(&mut entry, start, "4#").last(), Some(&busy));
        let last = keys(&mut entry, start, "99").pop();
        assert_eq!(last, Some(PinStep::Over(PinEnd::Wrong)));
    }

    #[test]
    fn the_hash_ending_a_wrong_pin_is_not_another_try() {
        let start = Instant::now();
        let mut entry = PinEntry::new(local("4321"), start, 30 * SECOND);
        let busy = PinStep::Waiting(Some(Prompt::Busy));
        assert_eq!(keys(&mut entry, start, "1111#"), {
            let quiet = PinStep::Waiting(Some(Prompt::Silence));
            vec![
                quiet.clone(),
                quiet.clone(),
                quiet,
                busy.clone(),
                PinStep::Waiting(None),
            ]
        });
        assert_eq!(
            keys(&mut entry, start, "2222#").last(),
            Some(&PinStep::Waiting(None))
        );
        let last = keys(&mut entry, start, "9999#");
        assert_eq!(
            last[3],
            PinStep::Over(PinEnd::Wrong),
            "the third wrong PIN ends it"
        );
    }

    #[test]
    fn a_remote_pin_is_sent_on_hash_and_its_verdict_counts_like_a_local_one() {
        let start = Instant::now();
        let mut entry = PinEntry::new(PinCheck::Remote, start, 30 * SECOND);
        assert_eq!(entry.handle_key(start, '#'), PinStep::Waiting(None));
        let quiet = PinStep::Waiting(Some(Prompt::Silence));
        assert_eq!(keys(&mut entry, start, "12345").last(), Some(&quiet));
        assert_eq!(entry.handle_key(start, '#'), PinStep::Check("12345".into()));
        // Keys while livekit-server decides are not a new attempt.
        assert_eq!(entry.handle_key(start, '9'), PinStep::Waiting(None));
        let busy = PinStep::Waiting(Some(Prompt::Busy));
        assert_eq!(entry.checked(start, false), busy);
        keys(&mut entry, start, "777");
        assert_eq!(entry.handle_key(start, '#'), PinStep::Check("777".into()));
        assert_eq!(entry.checked(start, true), PinStep::Entered);
    }

    #[test]
    fn no_pin_in_time_is_a_timeout() {
        let start = Instant::now();
        let mut entry = PinEntry::new(local("42"), start, 10 * SECOND);
        keys(&mut entry, start, "4");
        assert_eq!(entry.poll_timeout(), start + 10 * SECOND);
        assert_eq!(
            entry.handle_timeout(start + 10 * SECOND),
            PinStep::Over(PinEnd::Timeout)
        );
    }
}
