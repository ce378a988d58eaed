//! Redis channel names. A name is its parts joined with `|`; an empty part adds nothing (and
//! no `|` of its own); a character outside `[0-9A-Za-z_]` is written `u+` and four lower-case
//! hex digits, or `U+` and eight above U+FFFF. A topic is a list of parts, joined the same way
//! inside the name — with one quirk kept for compatibility: a topic ending in an empty part
//! leaves its `|` behind (`["a", ""]` gives `a||REQ`).

use std::fmt::Write as _;

/// One RPC method, as its channels name it: the protobuf service (`SIPInternal`, `IOInfo`),
/// the method (`CreateSIPParticipant`), and the topic (the call id for a per-call
/// TransferSIPParticipant; none for most methods).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method<'a> {
    pub service: &'a str,
    pub method: &'a str,
    pub topic: &'a [String],
}

impl Method<'_> {
    /// Where requests are published; servers subscribe.
    pub fn request_channel(&self) -> String {
        self.channel("REQ")
    }

    /// Where the client awards a request to one of the servers that bid for it.
    pub fn claim_award_channel(&self) -> String {
        self.channel("RCLAIM")
    }

    fn channel(&self, kind: &str) -> String {
        format_channel(&[
            Part::One(self.service),
            Part::One(self.method),
            Part::Topic(self.topic),
            Part::One(kind),
        ])
    }
}

/// Where servers bid for a request of the client `client_id`.
pub fn claim_bid_channel(service: &str, client_id: &str) -> String {
    format_channel(&[Part::One(service), Part::One(client_id), Part::One("CLAIM")])
}

/// Where servers answer the client `client_id`.
pub fn response_channel(service: &str, client_id: &str) -> String {
    format_channel(&[Part::One(service), Part::One(client_id), Part::One("RES")])
}

/// A part of a channel name.
#[derive(Debug, Clone, Copy)]
enum Part<'a> {
    One(&'a str),
    Topic(&'a [String]),
}

fn format_channel(parts: &[Part<'_>]) -> String {
    let mut name = String::new();
    append_parts(&mut name, parts);
    name
}

/// psrpc's rule: a `|` goes before a part only if the parts before it wrote something, and a
/// topic's own parts follow the same rule among themselves.
fn append_parts(name: &mut String, parts: &[Part<'_>]) {
    let mut written = false;
    for part in parts {
        if written {
            name.push('|');
        }
        let before = name.len();
        match part {
            Part::One(text) => append_escaped(name, text),
            Part::Topic(topic) => {
                let topic: Vec<Part<'_>> = topic.iter().map(|t| Part::One(t)).collect();
                append_parts(name, &topic);
            }
        }
        written = name.len() > before;
    }
}

fn append_escaped(name: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
        } else if u32::from(c) < 0x1_0000 {
            let _ = write!(name, "u+{:04x}", u32::from(c));
        } else {
            let _ = write!(name, "U+{:08x}", u32::from(c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|p| (*p).to_owned()).collect()
    }

    /// psrpc's own golden names (its `channels_test.go`), the Redis ones.
    #[test]
    fn psrpc_golden_names() {
        assert_eq!(response_channel("foo", "bar"), "foo|bar|RES");
        assert_eq!(claim_bid_channel("foo", "bar"), "foo|bar|CLAIM");
        let no_topic = Method {
            service: "foo",
            method: "bar",
            topic: &[],
        };
        assert_eq!(no_topic.request_channel(), "foo|bar|REQ");
        assert_eq!(no_topic.claim_award_channel(), "foo|bar|RCLAIM");
        let abc = topic(&["a", "b", "c"]);
        let with_topic = Method {
            topic: &abc,
            ..no_topic
        };
        assert_eq!(with_topic.request_channel(), "foo|bar|a|b|c|REQ");
        assert_eq!(with_topic.claim_award_channel(), "foo|bar|a|b|c|RCLAIM");
    }

    /// The escaping of psrpc's golden test (there with `.` between parts; Redis uses `|`).
    #[test]
    fn characters_outside_the_channel_alphabet_are_escaped() {
        let mut name = String::new();
        append_parts(
            &mut name,
            &[
                Part::One("🚀_É"),
                Part::One("🛰_bar"),
                Part::Topic(&topic(&["软件"])),
                Part::One("END"),
            ],
        );
        assert_eq!(name, "U+0001f680_u+00c9|U+0001f6f0_bar|u+8f6fu+4ef6|END");
    }

    /// The channels of the SIP methods, and the empty-part rules, as psrpc v0.7.2 printed
    /// them for the same inputs.
    #[test]
    fn sip_channels_and_empty_parts_as_psrpc_names_them() {
        let cases: [(&str, &str, Vec<String>, &str); 9] = [
            (
                "SIPInternal",
                "CreateSIPParticipant",
                topic(&[""]),
                "SIPInternal|CreateSIPParticipant|REQ",
            ),
            (
                "SIPInternal",
                "CreateSIPParticipant",
                topic(&["my-cluster"]),
                "SIPInternal|CreateSIPParticipant|myu+002dcluster|REQ",
            ),
            (
                "SIPInternal",
                "TransferSIPParticipant",
                topic(&["SCL_abcDEF123456"]),
                "SIPInternal|TransferSIPParticipant|SCL_abcDEF123456|REQ",
            ),
            (
                "IOInfo",
                "GetSIPTrunkAuthentication",
                Vec::new(),
                "IOInfo|GetSIPTrunkAuthentication|REQ",
            ),
            (
                "IOInfo",
                "EvaluateSIPDispatchRules",
                Vec::new(),
                "IOInfo|EvaluateSIPDispatchRules|REQ",
            ),
            ("svc", "m", topic(&["a", "", "b"]), "svc|m|a|b|REQ"),
            ("svc", "m", topic(&["a", ""]), "svc|m|a||REQ"),
            ("svc", "m", topic(&["", "a"]), "svc|m|a|REQ"),
            (
                "svc",
                "m",
                topic(&["a.b-c d/é", "🚀"]),
                "svc|m|au+002ebu+002dcu+0020du+002fu+00e9|U+0001f680|REQ",
            ),
        ];
        for (service, method, topic, expected) in cases {
            let rpc = Method {
                service,
                method,
                topic: &topic,
            };
            assert_eq!(rpc.request_channel(), expected, "{topic:?}");
        }
        let award = Method {
            service: "SIPInternal",
            method: "TransferSIPParticipant",
            topic: &topic(&["SCL_abcDEF123456"]),
        };
        assert_eq!(
            award.claim_award_channel(),
            "SIPInternal|TransferSIPParticipant|SCL_abcDEF123456|RCLAIM"
        );
        assert_eq!(
            response_channel("SIPInternal", "CLI_abc"),
            "SIPInternal|CLI_abc|RES"
        );
        assert_eq!(
            claim_bid_channel("SIPInternal", "CLI_abc"),
            "SIPInternal|CLI_abc|CLAIM"
        );
    }
}
