//! Verifying deliveries: what passes, what is refused and why, and what the event becomes.
//! Needs no HTTP client (runs with `--no-default-features`).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use sophic::types::{EventName, OrderStatus};
use sophic::webhooks::{Verifier, WebhookError, WebhookEvent, WebhookSecret, sign};

const SENT_AT: i64 = 1_773_325_800; // 2026-03-12T14:30:00Z

fn secret() -> WebhookSecret {
    WebhookSecret::from_bytes(*b"0123456789abcdef0123456789abcdef")
}

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(SENT_AT + 30, 0).unwrap()
}

fn order_event(name: &str, status: &str) -> Vec<u8> {
    let mut order: Value =
        serde_json::from_str(include_str!("fixtures/order_placed.json")).unwrap();
    order["status"] = status.into();
    json!({
        "id": "evt_0001",
        "name": name,
        "resource": {"id": "ord_abc123", "resource_type": "order"},
        "data": order,
        "created_at": "2026-03-12T14:30:00Z"
    })
    .to_string()
    .into_bytes()
}

fn headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", HeaderValue::from_str(id).unwrap());
    headers.insert(
        "webhook-timestamp",
        HeaderValue::from_str(&timestamp.to_string()).unwrap(),
    );
    headers.insert(
        "webhook-signature",
        HeaderValue::from_str(signature).unwrap(),
    );
    headers.insert("webhook-attempt", HeaderValue::from_static("2"));
    headers
}

fn signed(body: &[u8]) -> HeaderMap {
    headers(
        "whd_9s8d7f",
        SENT_AT,
        &sign(&secret(), "whd_9s8d7f", SENT_AT, body),
    )
}

#[test]
fn a_signed_order_delivery_verifies_into_its_order() {
    let body = order_event("order.filled", "filled");

    let delivery = Verifier::new(secret())
        .verify_at(&signed(&body), &body, now())
        .unwrap();

    assert_eq!(delivery.id, "whd_9s8d7f");
    assert_eq!(delivery.timestamp.timestamp(), SENT_AT);
    assert_eq!(delivery.attempt.map(|a| a.get()), Some(2));
    let WebhookEvent::Order(event) = &delivery.event else {
        panic!("{:?}", delivery.event)
    };
    assert_eq!(event.event.name, EventName::OrderFilled);
    assert_eq!(event.order.id, "ord_abc123");
    assert_eq!(event.order.status, OrderStatus::Filled);
    assert_eq!(delivery.event.name(), "order.filled");
}

#[test]
fn every_order_event_name_carries_the_order() {
    for status in [
        "placed",
        "pending",
        "executing",
        "filled",
        "settled",
        "cancelled",
    ] {
        let body = order_event(&format!("order.{status}"), status);
        let event = WebhookEvent::from_json(&body).unwrap();
        assert_eq!(event.order().unwrap().status.to_string(), status);
    }
}

#[test]
fn a_tampered_body_has_no_matching_signature() {
    let body = order_event("order.filled", "filled");
    let headers = signed(&body);
    let tampered = order_event("order.filled", "settled");

    let err = Verifier::new(secret())
        .verify_at(&headers, &tampered, now())
        .unwrap_err();

    assert_eq!(err, WebhookError::NoMatchingSignature);
}

#[test]
fn a_delivery_signed_with_another_secret_has_no_matching_signature() {
    let body = order_event("order.placed", "placed");
    let other = WebhookSecret::from_bytes([1; 32]);
    let headers = headers("whd_1", SENT_AT, &sign(&other, "whd_1", SENT_AT, &body));

    let err = Verifier::new(secret())
        .verify_at(&headers, &body, now())
        .unwrap_err();

    assert_eq!(err, WebhookError::NoMatchingSignature);
}

#[test]
fn a_stale_timestamp_is_refused_even_when_signed() {
    let body = order_event("order.placed", "placed");
    let late = Utc.timestamp_opt(SENT_AT + 301, 0).unwrap();

    let err = Verifier::new(secret())
        .verify_at(&signed(&body), &body, late)
        .unwrap_err();

    assert!(matches!(err, WebhookError::TimestampTooOld { .. }), "{err}");
    assert!(err.to_string().contains("300s"), "{err}");
}

#[test]
fn a_timestamp_from_the_future_is_refused() {
    let body = order_event("order.placed", "placed");
    let early = Utc.timestamp_opt(SENT_AT - 301, 0).unwrap();

    let err = Verifier::new(secret())
        .verify_at(&signed(&body), &body, early)
        .unwrap_err();

    assert!(matches!(err, WebhookError::TimestampTooNew { .. }), "{err}");
}

#[test]
fn the_tolerance_is_configurable() {
    let body = order_event("order.placed", "placed");
    let hour_later = Utc.timestamp_opt(SENT_AT + 3600, 0).unwrap();
    let verifier = Verifier::new(secret()).tolerance(Duration::from_secs(2 * 3600));

    assert!(
        verifier
            .verify_at(&signed(&body), &body, hour_later)
            .is_ok()
    );
    let strict = Verifier::new(secret()).tolerance(Duration::from_secs(10));
    assert!(strict.verify_at(&signed(&body), &body, now()).is_err());
    assert!(matches!(
        strict.verify_at(&signed(&body), &body, now()),
        Err(WebhookError::TimestampTooOld { .. })
    ));
}

#[test]
fn malformed_signature_headers_are_refused_as_such() {
    let body = order_event("order.placed", "placed");
    for header in [
        "",
        "garbage",
        "v1,",
        ",abc",
        "v1,not*base64",
        "v1,AAAA",
        "v2,abc",
    ] {
        let err = Verifier::new(secret())
            .verify_at(&headers("whd_1", SENT_AT, header), &body, now())
            .unwrap_err();
        assert!(
            matches!(err, WebhookError::MalformedSignature(_)),
            "{header:?}: {err}"
        );
    }
}

#[test]
fn a_missing_header_is_named() {
    let body = order_event("order.placed", "placed");
    for (name, display) in [
        ("webhook-id", "Webhook-Id"),
        ("webhook-timestamp", "Webhook-Timestamp"),
        ("webhook-signature", "Webhook-Signature"),
    ] {
        let mut headers = signed(&body);
        headers.remove(name);
        let err = Verifier::new(secret())
            .verify_at(&headers, &body, now())
            .unwrap_err();
        assert_eq!(err, WebhookError::MissingHeader(display));
        assert_eq!(
            err.to_string(),
            format!("the `{display}` header is missing")
        );
    }
}

#[test]
fn a_timestamp_that_is_not_unix_seconds_is_malformed() {
    let body = order_event("order.placed", "placed");
    let mut headers = signed(&body);
    headers.insert(
        "webhook-timestamp",
        HeaderValue::from_static("2026-03-12T14:30:00Z"),
    );

    let err = Verifier::new(secret())
        .verify_at(&headers, &body, now())
        .unwrap_err();

    assert!(
        matches!(
            err,
            WebhookError::MalformedHeader {
                header: "Webhook-Timestamp",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn during_rotation_any_matching_entry_is_enough() {
    let body = order_event("order.placed", "placed");
    let old = WebhookSecret::from_bytes([1; 32]);
    let header = format!(
        "{} {} v1a,c29tZXRoaW5nIGVsc2U=",
        sign(&old, "whd_1", SENT_AT, &body),
        sign(&secret(), "whd_1", SENT_AT, &body)
    );

    let verified =
        Verifier::new(secret()).verify_at(&headers("whd_1", SENT_AT, &header), &body, now());

    assert!(verified.is_ok(), "{verified:?}");
}

#[test]
fn a_receiver_may_accept_an_old_and_a_new_secret() {
    let body = order_event("order.placed", "placed");
    let old = WebhookSecret::from_bytes([1; 32]);
    let headers = headers("whd_1", SENT_AT, &sign(&old, "whd_1", SENT_AT, &body));

    let verifier = Verifier::new(secret()).with_secret(old);

    assert!(verifier.verify_at(&headers, &body, now()).is_ok());
}

#[test]
fn an_unknown_event_name_is_kept_raw() {
    let body = br#"{"id":"evt_9","name":"position.rolled_over","resource":{"id":"pos_1","resource_type":"position"},"data":{"anything":1},"created_at":"2026-03-12T14:30:00Z"}"#;

    let delivery = Verifier::new(secret())
        .verify_at(&signed(body), body, now())
        .unwrap();

    let WebhookEvent::Unknown(event) = &delivery.event else {
        panic!("{:?}", delivery.event)
    };
    assert_eq!(event.name, "position.rolled_over");
    assert_eq!(event.json["data"]["anything"], 1);
}

#[test]
fn a_test_delivery_is_its_own_kind() {
    let body = br#"{"id":"evt_test_9s8d7f","name":"webhook.test","resource":{"id":"wh_5hT2kq","resource_type":"webhook"},"data":{},"created_at":"2026-03-12T14:05:00Z"}"#;

    let event = WebhookEvent::from_json(body).unwrap();

    assert!(matches!(event, WebhookEvent::Test(_)), "{event:?}");
    assert!(event.order().is_none());
}

#[test]
fn an_order_event_whose_data_is_not_an_order_is_invalid() {
    let body = br#"{"id":"evt_1","name":"order.filled","resource":{"id":"ord_1","resource_type":"order"},"data":{"id":"ord_1"},"created_at":"2026-03-12T14:30:00Z"}"#;

    let err = WebhookEvent::from_json(body).unwrap_err();

    assert!(matches!(err, WebhookError::InvalidPayload(_)), "{err}");
}

#[test]
fn a_body_that_is_not_json_is_invalid_even_when_signed() {
    let body = b"not json";

    let err = Verifier::new(secret())
        .verify_at(&signed(body), body, now())
        .unwrap_err();

    assert!(matches!(err, WebhookError::InvalidPayload(_)), "{err}");
}

#[test]
fn secrets_of_the_wrong_shape_are_refused() {
    for text in ["", "whsec_", "sk_live_abc", "whsec_%%%", "whsec_AAAA"] {
        let err = WebhookSecret::new(text).unwrap_err();
        assert!(
            matches!(err, WebhookError::InvalidSecret(_)),
            "{text:?}: {err}"
        );
    }
}

#[test]
fn webhook_errors_convert_into_the_sdk_error() {
    let err: sophic::Error = WebhookError::NoMatchingSignature.into();
    assert!(matches!(err, sophic::Error::Webhook(_)));
}
