//! Self-validating nonces and the bounded replay memory behind them.
//!
//! A nonce is `hex(issued ‖ serial ‖ tag)`: the issue time in seconds since the epoch, a serial
//! number unique per [`super::Challenger`], and the first 16 bytes of
//! HMAC-SHA256(secret, label ‖ realm ‖ issued ‖ serial). RFC 2617 §3.2.1 suggests exactly this
//! shape ("time-stamp H(time-stamp ":" ETag ":" private-key)"): we can tell that a nonce is
//! ours and how old it is without remembering it. The serial keeps two challenges issued in the
//! same second apart, which the per-nonce `nc` tracking needs.

use std::collections::BTreeMap;

use hmac::digest::{Key, KeyInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::digest::hex;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation: this key signs nothing else, but the label makes that explicit.
const LABEL: &[u8] = b"sipbridge digest nonce v1";
const TAG_LEN: usize = 16;
const RAW_LEN: usize = 8 + 8 + TAG_LEN;

/// What a genuine nonce says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Minted {
    pub(crate) issued: u64,
    pub(crate) serial: u64,
}

/// The keyed MAC. No `Debug` of the key: the impl below prints nothing of it.
#[derive(Clone)]
pub(crate) struct NonceKey {
    mac: HmacSha256,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(<redacted>)")
    }
}

impl NonceKey {
    pub(crate) fn new(secret: &[u8; 32]) -> Self {
        // HMAC zero-pads keys shorter than the block (RFC 2104 §2), so filling the 64-byte block
        // ourselves is the same key, and `new` on a full block cannot fail.
        let mut key = Key::<HmacSha256>::default();
        for (k, s) in key.iter_mut().zip(secret) {
            *k = *s;
        }
        Self {
            mac: <HmacSha256 as KeyInit>::new(&key),
        }
    }

    fn mac(&self, realm: &str, issued: u64, serial: u64) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(LABEL);
        // Length prefix so that no realm can be confused with realm ‖ time bytes.
        mac.update(&(realm.len() as u64).to_be_bytes());
        mac.update(realm.as_bytes());
        mac.update(&issued.to_be_bytes());
        mac.update(&serial.to_be_bytes());
        mac
    }

    pub(crate) fn mint(&self, realm: &str, minted: Minted) -> String {
        let tag = self
            .mac(realm, minted.issued, minted.serial)
            .finalize()
            .into_bytes();
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.extend_from_slice(&minted.issued.to_be_bytes());
        raw.extend_from_slice(&minted.serial.to_be_bytes());
        raw.extend(tag.iter().take(TAG_LEN));
        hex(&raw)
    }

    /// `Some` only for a nonce this key minted for this realm (tag checked in constant time).
    pub(crate) fn open(&self, realm: &str, nonce: &str) -> Option<Minted> {
        let raw = unhex(nonce)?;
        let (issued, rest) = raw.split_first_chunk::<8>()?;
        let (serial, tag) = rest.split_first_chunk::<8>()?;
        let minted = Minted {
            issued: u64::from_be_bytes(*issued),
            serial: u64::from_be_bytes(*serial),
        };
        self.mac(realm, minted.issued, minted.serial)
            .verify_truncated_left(tag)
            .ok()?;
        Some(minted)
    }
}

/// Lower-case hex of exactly [`RAW_LEN`] bytes, as [`NonceKey::mint`] writes it.
fn unhex(text: &str) -> Option<[u8; RAW_LEN]> {
    fn digit(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        }
    }
    if text.len() != RAW_LEN * 2 {
        return None;
    }
    let mut out = [0u8; RAW_LEN];
    for (o, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *o = (digit(*hi)? << 4) | digit(*lo)?;
    }
    Some(out)
}

/// Verdict of the replay memory on an otherwise valid request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// First use of this nonce, or a higher `nc` than before: accepted and remembered.
    Fresh,
    /// Same or lower `nc`, or a qop-less nonce used again.
    Replayed,
    /// The nonce's entry may have been dropped to keep the memory bounded; we cannot tell a
    /// replay from a fresh use, so the caller re-challenges with `stale=true`.
    Forgotten,
}

/// Per-nonce highest `nc` (RFC 2617 §3.2.2: the server "can detect request replays by
/// maintaining its own copy of this count"), bounded in time and size.
///
/// Entries are keyed by serial, which grows with issue order. Whenever an entry is dropped,
/// for expiry or for room, every serial up to it is marked forgotten, and such nonces are
/// answered with a stale challenge instead of being accepted. Forgetting thus never lets a
/// replay through: at worst a legitimate client does one extra stale round trip. Only requests
/// with a correct digest are recorded, so peers without the password cannot fill the memory.
#[derive(Debug, Clone)]
pub(crate) struct ReplayWindow {
    /// serial → (issue time, highest nc; `None` after a qop-less use).
    entries: BTreeMap<u64, (u64, Option<u32>)>,
    forgotten_through: Option<u64>,
    capacity: usize,
}

impl ReplayWindow {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            forgotten_through: None,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn forget_first(&mut self) {
        if let Some((serial, _)) = self.entries.pop_first() {
            self.forgotten_through = self.forgotten_through.max(Some(serial));
        }
    }

    /// Checks `nc` (`None` without qop) for this nonce and records it if fresh.
    pub(crate) fn check(
        &mut self,
        minted: Minted,
        nc: Option<u32>,
        now: u64,
        lifetime: u64,
    ) -> Seen {
        while self
            .entries
            .first_key_value()
            .is_some_and(|(_, (issued, _))| issued.saturating_add(lifetime) < now)
        {
            self.forget_first();
        }
        if let Some((_, last)) = self.entries.get_mut(&minted.serial) {
            return match (*last, nc) {
                (Some(prev), Some(nc)) if nc > prev => {
                    *last = Some(nc);
                    Seen::Fresh
                }
                _ => Seen::Replayed,
            };
        }
        if self.forgotten_through.is_some_and(|f| minted.serial <= f) {
            return Seen::Forgotten;
        }
        self.entries.insert(minted.serial, (minted.issued, nc));
        while self.entries.len() > self.capacity {
            self.forget_first();
        }
        Seen::Fresh
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const AT: Minted = Minted {
        issued: 1_700_000_000,
        serial: 42,
    };

    #[test]
    fn mint_then_open() {
        let key = NonceKey::new(&[1; 32]);
        let nonce = key.mint("realm", AT);
        assert_eq!(nonce.len(), RAW_LEN * 2);
        assert!(
            nonce
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(key.open("realm", &nonce), Some(AT));
        assert_ne!(key.mint("realm", Minted { serial: 43, ..AT }), nonce);
    }

    #[test]
    fn open_refuses_what_we_did_not_mint() {
        let key = NonceKey::new(&[1; 32]);
        let nonce = key.mint("realm", AT);
        assert_eq!(key.open("other realm", &nonce), None);
        assert_eq!(NonceKey::new(&[2; 32]).open("realm", &nonce), None);
        assert_eq!(key.open("realm", &nonce.to_ascii_uppercase()), None);
        assert_eq!(key.open("realm", &nonce[..62]), None);
        assert_eq!(key.open("realm", &format!("{nonce}00")), None);
        assert_eq!(key.open("realm", ""), None);
        assert_eq!(key.open("realm", &"é".repeat(32)), None);
        // Every single-bit change of the raw bytes is caught.
        let raw = unhex(&nonce).unwrap();
        for bit in 0..RAW_LEN * 8 {
            let mut flipped = raw;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(key.open("realm", &hex(&flipped)), None, "bit {bit}");
        }
    }

    #[test]
    fn replay_window_tracks_nc_per_nonce() {
        let mut window = ReplayWindow::new(8);
        let other = Minted { serial: 43, ..AT };
        let now = AT.issued;
        assert_eq!(window.check(AT, Some(1), now, 300), Seen::Fresh);
        assert_eq!(window.check(other, Some(1), now, 300), Seen::Fresh);
        assert_eq!(window.check(AT, Some(1), now, 300), Seen::Replayed);
        assert_eq!(window.check(AT, Some(2), now, 300), Seen::Fresh);
        // A nonce first used with qop cannot be reused without, and the other way round.
        assert_eq!(window.check(AT, None, now, 300), Seen::Replayed);
        let bare = Minted { serial: 44, ..AT };
        assert_eq!(window.check(bare, None, now, 300), Seen::Fresh);
        assert_eq!(window.check(bare, Some(9), now, 300), Seen::Replayed);
        assert_eq!(window.len(), 3);
        // Expired entries are dropped, and their serials stay forgotten.
        assert_eq!(
            window.check(
                Minted {
                    serial: 50,
                    issued: now + 400
                },
                Some(1),
                now + 400,
                300
            ),
            Seen::Fresh
        );
        assert_eq!(window.len(), 1);
        assert_eq!(window.check(AT, Some(3), now + 400, 300), Seen::Forgotten);
    }
}
