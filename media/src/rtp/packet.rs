//! RTP packet parsing and serialization (RFC 3550 §5.1, header extensions §5.3.1).
//!
//! Parsing borrows from the datagram: no copy, no allocation. Every length comes from the
//! packet itself, so every slice is checked first; malformed input is an [`Error`].

use crate::Error;

/// Synchronization source identifier (RFC 3550 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ssrc(pub u32);

/// RTP payload type, 0–127.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(pub u8);

const FIXED_HEADER: usize = 12;

/// A header extension block: the profile-defined 16 bits and the extension words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    pub profile: u16,
    pub data: &'a [u8],
}

/// One parsed RTP packet, borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub marker: bool,
    pub payload_type: PayloadType,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: Ssrc,
    /// Contributing sources, 4 bytes each, as on the wire.
    csrcs: &'a [u8],
    pub extension: Option<Extension<'a>>,
    /// The payload without padding.
    pub payload: &'a [u8],
    /// Padding octets that followed the payload (RFC 3550 §5.1), 0 for none.
    pub padding: u8,
}

impl<'a> RtpPacket<'a> {
    /// Parses one RTP packet.
    pub fn parse(buf: &'a [u8]) -> Result<Self, Error> {
        let fixed = buf
            .get(..FIXED_HEADER)
            .ok_or(Error::Truncated("RTP header"))?;
        let version = fixed[0] >> 6;
        if version != 2 {
            return Err(Error::Version(version));
        }
        let has_padding = fixed[0] & 0x20 != 0;
        let has_extension = fixed[0] & 0x10 != 0;
        let csrc_count = usize::from(fixed[0] & 0x0f);
        let marker = fixed[1] & 0x80 != 0;
        let payload_type = PayloadType(fixed[1] & 0x7f);
        let sequence = u16::from_be_bytes([fixed[2], fixed[3]]);
        let timestamp = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let ssrc = Ssrc(u32::from_be_bytes([
            fixed[8], fixed[9], fixed[10], fixed[11],
        ]));

        let mut rest = &buf[FIXED_HEADER..];
        let csrcs = take(&mut rest, csrc_count * 4, "CSRC list")?;
        let extension = if has_extension {
            let head = take(&mut rest, 4, "header extension")?;
            let profile = u16::from_be_bytes([head[0], head[1]]);
            let words = usize::from(u16::from_be_bytes([head[2], head[3]]));
            let data = take(&mut rest, words * 4, "header extension")?;
            Some(Extension { profile, data })
        } else {
            None
        };
        let (payload, padding) = if has_padding {
            // The last octet counts the padding, itself included (RFC 3550 §5.1).
            let count = *rest.last().ok_or(Error::Padding(0))?;
            if count == 0 || usize::from(count) > rest.len() {
                return Err(Error::Padding(count));
            }
            (&rest[..rest.len() - usize::from(count)], count)
        } else {
            (rest, 0)
        };
        Ok(Self {
            marker,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrcs,
            extension,
            payload,
            padding,
        })
    }

    /// Writes the packet out, every part included (`out` is cleared first). A parsed packet
    /// writes the bytes it was parsed from, except that padding octets come out as zeros.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.clear();
        let csrc_count = (self.csrcs.len() / 4).min(15);
        out.push(
            0x80 | u8::from(self.padding > 0) << 5
                | u8::from(self.extension.is_some()) << 4
                | csrc_count as u8,
        );
        out.push(u8::from(self.marker) << 7 | (self.payload_type.0 & 0x7f));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        out.extend_from_slice(&self.csrcs[..csrc_count * 4]);
        if let Some(ext) = self.extension {
            let words = ext.data.len().div_ceil(4).min(usize::from(u16::MAX));
            out.extend_from_slice(&ext.profile.to_be_bytes());
            out.extend_from_slice(&(words as u16).to_be_bytes());
            out.extend_from_slice(&ext.data[..ext.data.len().min(words * 4)]);
            out.extend(std::iter::repeat_n(
                0,
                words * 4 - ext.data.len().min(words * 4),
            ));
        }
        out.extend_from_slice(self.payload);
        if self.padding > 0 {
            out.extend(std::iter::repeat_n(0, usize::from(self.padding) - 1));
            out.push(self.padding);
        }
    }

    /// The contributing sources.
    pub fn csrcs(&self) -> impl Iterator<Item = Ssrc> + 'a {
        self.csrcs
            .chunks_exact(4)
            .map(|c| Ssrc(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8], Error> {
    if rest.len() < n {
        return Err(Error::Truncated(what));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

/// The header of a packet we send: no CSRCs, extensions or padding (a SIP phone needs none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: PayloadType,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: Ssrc,
}

impl RtpHeader {
    /// Header bytes [`Self::write`] produces.
    pub const LEN: usize = FIXED_HEADER;

    /// Writes the header followed by `payload` into `out` (cleared first); reuses its capacity.
    pub fn write(&self, payload: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.push(0x80);
        out.push(u8::from(self.marker) << 7 | (self.payload_type.0 & 0x7f));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        out.extend_from_slice(payload);
    }
}

/// RFC 5761 §4: on a muxed port, RTCP packet types 192–223 land in the RTP payload-type
/// octet as 64–95 with the marker bit set, values no dynamic RTP mapping may use.
pub fn looks_like_rtcp(datagram: &[u8]) -> bool {
    matches!(datagram.get(1), Some(pt) if (192..=223).contains(pt))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(first: u8, csrcs: usize, ext_words: Option<u16>, payload: &[u8], pad: u8) -> Vec<u8> {
        let mut p = vec![first, 0x80 | 8, 0x12, 0x34, 0, 0, 0x01, 0x40, 1, 2, 3, 4];
        for i in 0..csrcs {
            p.extend_from_slice(&(i as u32 + 100).to_be_bytes());
        }
        if let Some(words) = ext_words {
            p.extend_from_slice(&[0xbe, 0xde]);
            p.extend_from_slice(&words.to_be_bytes());
            p.extend(std::iter::repeat_n(0xaa, usize::from(words) * 4));
        }
        p.extend_from_slice(payload);
        if pad > 0 {
            p.extend(std::iter::repeat_n(0, usize::from(pad) - 1));
            p.push(pad);
        }
        p
    }

    #[test]
    fn parses_every_optional_part() {
        let buf = packet(0x80 | 0x20 | 0x10 | 2, 2, Some(1), b"abc", 4);
        let p = RtpPacket::parse(&buf).unwrap();
        assert!(p.marker);
        assert_eq!(p.payload_type, PayloadType(8));
        assert_eq!(
            (p.sequence, p.timestamp, p.ssrc),
            (0x1234, 320, Ssrc(0x01020304))
        );
        assert_eq!(p.csrcs().collect::<Vec<_>>(), [Ssrc(100), Ssrc(101)]);
        let ext = p.extension.unwrap();
        assert_eq!((ext.profile, ext.data.len()), (0xbede, 4));
        assert_eq!(p.payload, b"abc");
        assert_eq!(p.padding, 4);
        let mut out = Vec::new();
        p.write(&mut out);
        assert_eq!(out, buf, "written back byte for byte");
    }

    #[test]
    fn round_trips_what_we_write() {
        let header = RtpHeader {
            marker: true,
            payload_type: PayloadType(101),
            sequence: 65535,
            timestamp: u32::MAX,
            ssrc: Ssrc(7),
        };
        let mut out = Vec::new();
        header.write(&[1, 2, 3], &mut out);
        let p = RtpPacket::parse(&out).unwrap();
        assert_eq!(
            (p.marker, p.payload_type, p.sequence, p.timestamp, p.ssrc),
            (true, PayloadType(101), 65535, u32::MAX, Ssrc(7))
        );
        assert_eq!(p.payload, [1, 2, 3]);
        assert!(!looks_like_rtcp(&out));
        assert!(looks_like_rtcp(&[0x80, 200, 0, 6]));
    }

    #[test]
    fn malformed_packets_are_errors() {
        assert_eq!(
            RtpPacket::parse(&[0x80; 11]),
            Err(Error::Truncated("RTP header"))
        );
        assert_eq!(RtpPacket::parse(&[0x40; 12]), Err(Error::Version(1)));
        let too_many_csrcs = packet(0x80 | 15, 1, None, b"", 0);
        assert_eq!(
            RtpPacket::parse(&too_many_csrcs),
            Err(Error::Truncated("CSRC list"))
        );
        let mut long_ext = packet(0x80 | 0x10, 0, Some(1), b"", 0);
        long_ext[13 + 2] = 9; // claims 9 words, has 1
        assert_eq!(
            RtpPacket::parse(&long_ext),
            Err(Error::Truncated("header extension"))
        );
        let mut bad_pad = packet(0x80 | 0x20, 0, None, b"xy", 2);
        *bad_pad.last_mut().unwrap() = 40;
        assert_eq!(RtpPacket::parse(&bad_pad), Err(Error::Padding(40)));
        let zero_pad = packet(0x80 | 0x20, 0, None, b"xy\0", 0);
        assert_eq!(RtpPacket::parse(&zero_pad), Err(Error::Padding(0)));
    }
}
