//! ICE candidates over the signal channel (`TrickleRequest.candidateInit`).
//!
//! The server speaks the JSON of the browser's `RTCIceCandidateInit`:
//! `{"candidate":"candidate:…","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}`.

use livekit_protocol as proto;
use serde::{Deserialize, Serialize};
use str0m::Candidate;
use str0m::net::Protocol;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CandidateInit {
    candidate: String,
    #[serde(default)]
    sdp_mid: Option<String>,
    #[serde(default, rename = "sdpMLineIndex")]
    sdp_m_line_index: Option<u32>,
    #[serde(default)]
    username_fragment: Option<String>,
}

/// Why a candidate from the server was not used.
#[derive(Debug, thiserror::Error)]
pub(super) enum TrickleError {
    #[error("candidateInit is not the expected JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("candidate line not understood: {0}")]
    Candidate(String),
}

/// The candidate in a server trickle, or `None` for one we cannot use: an empty candidate
/// (end of gathering) or a TCP candidate (the bridge's room leg is UDP only).
pub(super) fn parse(candidate_init: &str) -> Result<Option<Candidate>, TrickleError> {
    let init: CandidateInit = serde_json::from_str(candidate_init)?;
    let line = init.candidate.trim();
    if line.is_empty() {
        return Ok(None);
    }
    // Both spellings occur: with the `candidate:` prefix (browsers, pion) and without.
    let line = if line.starts_with("candidate:") {
        line.to_owned()
    } else {
        format!("candidate:{line}")
    };
    let candidate =
        Candidate::from_sdp_string(&line).map_err(|e| TrickleError::Candidate(e.to_string()))?;
    if candidate.proto() != Protocol::Udp {
        return Ok(None);
    }
    Ok(Some(candidate))
}

/// A trickle request announcing one of our candidates to the server.
pub(super) fn request(candidate: &Candidate, target: proto::SignalTarget) -> proto::TrickleRequest {
    let init = CandidateInit {
        candidate: candidate.to_sdp_string(),
        // Every m-line is bundled on one transport, so the first one stands for all.
        sdp_mid: Some("0".to_owned()),
        sdp_m_line_index: Some(0),
        username_fragment: None,
    };
    proto::TrickleRequest {
        // Serializing a struct of strings and numbers cannot fail.
        candidate_init: serde_json::to_string(&init).unwrap_or_default(),
        target: target as i32,
        r#final: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_candidate_parses() {
        let json = r#"{"candidate":"candidate:1546474213 1 udp 2130706431 127.0.0.1 7882 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}"#;
        let c = parse(json).unwrap().unwrap();
        assert_eq!(c.addr(), "127.0.0.1:7882".parse().unwrap());
    }

    #[test]
    fn tcp_and_empty_candidates_are_skipped_and_garbage_is_an_error() {
        let tcp = r#"{"candidate":"candidate:1 1 tcp 1671430143 127.0.0.1 7881 typ host tcptype passive"}"#;
        assert!(parse(tcp).unwrap().is_none());
        assert!(parse(r#"{"candidate":""}"#).unwrap().is_none());
        assert!(parse("not json").is_err());
        assert!(parse(r#"{"candidate":"candidate:nonsense"}"#).is_err());
    }

    #[test]
    fn our_candidate_round_trips() {
        let ours = Candidate::host("127.0.0.1:40000".parse().unwrap(), "udp").unwrap();
        let req = request(&ours, proto::SignalTarget::Publisher);
        assert_eq!(
            parse(&req.candidate_init).unwrap().unwrap().addr(),
            ours.addr()
        );
    }
}
