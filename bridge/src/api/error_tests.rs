use super::*;

use TwirpCode::*;

const ALL: [TwirpCode; 18] = [
    Canceled,
    Unknown,
    InvalidArgument,
    Malformed,
    DeadlineExceeded,
    NotFound,
    BadRoute,
    AlreadyExists,
    PermissionDenied,
    Unauthenticated,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
];

/// The documented table of [`twirp_code_for_sip`], as data: the rows that name codes.
const NAMED_ROWS: &[(TwirpCode, &[u16])] = &[
    (ResourceExhausted, &[440, 480, 486, 600]),
    (DeadlineExceeded, &[408]),
    (NotFound, &[301, 302, 404, 410, 481, 604]),
    (Canceled, &[487]),
    (
        PermissionDenied,
        &[
            401, 402, 403, 407, 428, 433, 436, 437, 438, 470, 494, 603, 607, 608,
        ],
    ),
    (FailedPrecondition, &[409, 412, 482, 483, 491]),
    (OutOfRange, &[416]),
];

/// What the table says for `code`: its named row, else the row of its class.
fn documented(code: u16) -> TwirpCode {
    let named = NAMED_ROWS
        .iter()
        .find(|(_, codes)| codes.contains(&code))
        .map(|(twirp, _)| *twirp);
    named.unwrap_or(match code / 100 {
        3 | 4 | 6 => InvalidArgument,
        5 => FailedPrecondition,
        _ => Unknown,
    })
}

#[test]
fn every_sip_code_from_100_to_699_maps_to_its_documented_class() {
    for code in 100..=699 {
        assert_eq!(twirp_code_for_sip(code), documented(code), "SIP {code}");
    }
}

#[test]
fn the_documented_rows_are_disjoint_and_name_real_failures() {
    let mut seen = std::collections::HashSet::new();
    for (_, codes) in NAMED_ROWS {
        for &code in *codes {
            assert!(
                (300..=699).contains(&code),
                "{code} is not a failure status"
            );
            assert!(seen.insert(code), "{code} is in two rows");
        }
    }
}

#[test]
fn the_issues_own_rows_hold() {
    for (codes, twirp) in [
        (&[486, 480, 600][..], ResourceExhausted),
        (&[408], DeadlineExceeded),
        (&[404, 410, 604], NotFound),
        (&[487], Canceled),
        (&[401, 407, 403], PermissionDenied),
        (&[400, 484, 488, 606], InvalidArgument),
    ] {
        for &code in codes {
            assert_eq!(twirp_code_for_sip(code), twirp, "SIP {code}");
        }
    }
    for code in 500..=599 {
        assert_eq!(twirp_code_for_sip(code), FailedPrecondition, "SIP {code}");
    }
}

#[test]
fn a_sip_failure_never_looks_like_a_fault_of_the_api_request_or_the_bridge() {
    // Those codes answer the HTTP request itself (route, body, token) or our own faults.
    let reserved = [
        BadRoute,
        Malformed,
        Unauthenticated,
        Unimplemented,
        Internal,
        Unavailable,
        AlreadyExists,
        DataLoss,
    ];
    for code in 0..=1000 {
        let twirp = twirp_code_for_sip(code);
        assert!(!reserved.contains(&twirp), "SIP {code} → {twirp}");
        // SDKs retry 5xx against other regions: a refused call must not be redialled.
        let retried = twirp.http_status().is_server_error();
        assert!(
            !retried || !(300..=699).contains(&code),
            "SIP {code} → {twirp}"
        );
    }
}

#[test]
fn outside_the_final_range_is_unknown() {
    for code in [0, 99, 100, 183, 200, 299, 700, 999] {
        assert_eq!(twirp_code_for_sip(code), Unknown, "SIP {code}");
    }
}

#[test]
fn codes_carry_the_spec_v7_names_and_http_statuses() {
    let table = [
        (Canceled, "canceled", 408),
        (Unknown, "unknown", 500),
        (InvalidArgument, "invalid_argument", 400),
        (Malformed, "malformed", 400),
        (DeadlineExceeded, "deadline_exceeded", 408),
        (NotFound, "not_found", 404),
        (BadRoute, "bad_route", 404),
        (AlreadyExists, "already_exists", 409),
        (PermissionDenied, "permission_denied", 403),
        (Unauthenticated, "unauthenticated", 401),
        (ResourceExhausted, "resource_exhausted", 429),
        (FailedPrecondition, "failed_precondition", 412),
        (Aborted, "aborted", 409),
        (OutOfRange, "out_of_range", 400),
        (Unimplemented, "unimplemented", 501),
        (Internal, "internal", 500),
        (Unavailable, "unavailable", 503),
        (DataLoss, "data_loss", 500),
    ];
    assert_eq!(table.map(|(code, _, _)| code), ALL);
    for (code, name, status) in table {
        assert_eq!(code.as_str(), name);
        assert_eq!(code.http_status().as_u16(), status, "{name}");
    }
}

#[test]
fn a_decline_is_permission_denied_with_the_sip_status_as_string_meta() {
    let error = ApiError::from_sip(&SipStatus::new(603, "Decline"), "sip status 603: Decline");
    assert_eq!(error.code, PermissionDenied);
    assert_eq!(error.code.http_status(), StatusCode::FORBIDDEN);
    assert_eq!(
        String::from_utf8_lossy(&error.to_json()),
        r#"{"code":"permission_denied","msg":"sip status 603: Decline","meta":{"sip_status":"Decline","sip_status_code":"603"}}"#
    );
}

#[test]
fn an_empty_phrase_becomes_the_status_code_name() {
    let meta = ApiError::from_sip(&SipStatus::new(486, ""), "busy").meta();
    assert_eq!(meta["sip_status"], "SIP_STATUS_BUSY_HERE");
    assert_eq!(meta["sip_status_code"], "486");
    // A code livekit.SIPStatusCode has no name for keeps its number.
    let meta = ApiError::from_sip(&SipStatus::new(499, ""), "odd").meta();
    assert_eq!(meta["sip_status"], "499");
}

#[test]
fn an_error_without_sip_status_has_no_meta() {
    let error = ApiError::new(Unauthenticated, "missing token");
    assert!(error.meta().is_empty());
    assert_eq!(
        error.to_json(),
        br#"{"code":"unauthenticated","msg":"missing token"}"#
    );
    assert_eq!(error.to_string(), "unauthenticated: missing token");
}

#[tokio::test]
async fn the_response_is_exactly_application_json_with_the_codes_status() {
    let response = ApiError::from_sip(&SipStatus::new(486, "Busy Here"), "busy").into_response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["code"], "resource_exhausted");
    assert_eq!(json["meta"]["sip_status_code"], "486");
    assert_eq!(json["meta"]["sip_status"], "Busy Here");
}
