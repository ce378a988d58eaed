#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use sipbridge_signaling::dialog::{Dialog, LocalParty, Tag, TimerConfig};
use sipbridge_signaling::message::{Method, NameAddr, Response, SipUri, Uri};
use sipbridge_signaling::transaction::Transport;

use super::*;
use crate::call::scripted_phone;
use crate::sip::local::LocalAddresses;

/// The dialog of an answered inbound call from a phone whose Contact is port 5070.
fn answered_dialog() -> Dialog {
    let invite = scripted_phone::invite("Contact: <sip:phone@198.51.100.7:5070>\n", "");
    let mut ok = Response::to(&invite, 200, None);
    let local = LocalParty {
        tag: Tag("b7e1c0de".into()),
        contact: NameAddr::new(Uri::Sip(
            SipUri::parse("sip:bridge@192.0.2.10:5060").unwrap(),
        )),
    };
    let now = Instant::now();
    let mut dialog = Dialog::new_uas(&invite, &mut ok, local, TimerConfig::default(), now).unwrap();
    dialog.respond(&invite, &mut ok, now).unwrap();
    dialog
}

fn via() -> sipbridge_signaling::message::Via {
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    let local = LocalAddresses {
        sip_ip: ip,
        hostname: None,
        udp_port: Some(5060),
        tcp_port: None,
        rtp_ip: ip,
    };
    local.via(Transport::Udp)
}

#[test]
fn the_kept_bye_is_the_dialogs_bye_to_its_contact_well_ahead_in_cseq() {
    let dialog = answered_dialog();
    let source = "198.51.100.7:5999".parse().unwrap();
    let kept = KeptBye::of(&dialog, via(), source).unwrap();
    assert_eq!(kept.destination.to_string(), "198.51.100.7:5070");
    let (bye, transport) = kept.request().unwrap();
    assert_eq!((bye.method, transport), (Method::Bye, Transport::Udp));
    assert!(bye.head.cseq.seq > CSEQ_AHEAD, "{}", kept.message);
    assert!(kept.message.contains(";tag=b7e1c0de"), "{}", kept.message);
    // Building it left the dialog as it was: the call's own next request is unchanged.
    let mut live = dialog.clone();
    let next = live.build_request(Method::Bye, via(), None).unwrap();
    assert_eq!(next.request.head.cseq.seq + CSEQ_AHEAD, bye.head.cseq.seq);
}

#[test]
fn kept_byes_are_found_on_the_next_start_until_forgotten() {
    let dir = std::env::temp_dir().join(format!("sipbridge-hangup-{}", std::process::id()));
    let cdr = dir.join("cdr.jsonl");
    let journal = super::super::journal::directory(&cdr);
    std::fs::create_dir_all(&journal).unwrap();
    let source = "198.51.100.7:5999".parse().unwrap();
    let kept = KeptBye::of(&answered_dialog(), via(), source).unwrap();
    keep(&journal, "SCL_one", &kept).unwrap();
    keep(&journal, "SCL_two", &kept).unwrap();
    std::fs::write(journal.join("SCL_bad.bye"), "not json").unwrap();
    forget(&journal, "SCL_two");
    let found = left_over(&cdr);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, kept);
    assert!(found[0].0.ends_with("SCL_one.bye"));
    assert!(
        !journal.join("SCL_bad.bye").exists(),
        "an unreadable file is removed"
    );
    // The journal's recovery reads records only, never a kept BYE.
    assert!(super::super::journal::recover(&cdr).is_empty());
    assert!(found[0].0.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
