//! Sans-IO audio for the SIP leg of a call (shared/DESIGN.md, "media/").
//!
//! This crate will turn the phone's RTP (G.711, G.722, Opus, RFC 4733 DTMF) into 20 ms PCM
//! frames for the room and the room's audio back into RTP: pure functions of
//! (packets, time) → (frames, packets), with no sockets, clock reads or spawned tasks.
//! It knows nothing of SIP or LiveKit.
//!
//! Nothing is implemented yet: the media pipeline is its own issue.
