//! Any headers and body as a webhook delivery: verification and parsing never panic, and
//! a delivery signed with the secret always verifies.
#![no_main]

use chrono::DateTime;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sophic::webhooks::{Verifier, WebhookEvent, WebhookSecret, sign};

fuzz_target!(|data: &[u8]| {
    let secret = WebhookSecret::from_bytes([42; 32]);
    let verifier = Verifier::new(secret.clone());
    let now = DateTime::from_timestamp(1_773_325_800, 0).unwrap();

    // Split the input into an id, a timestamp, a signature header and a body.
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let (id, ts, sig, body) = (parts.next(), parts.next(), parts.next(), parts.next().unwrap_or_default());
    let mut headers = HeaderMap::new();
    for (name, value) in [("webhook-id", id), ("webhook-timestamp", ts), ("webhook-signature", sig)] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_bytes(v).ok()) {
            headers.insert(name, value);
        }
    }
    let _ = verifier.verify_at(&headers, body, now);
    let _ = WebhookEvent::from_json(body);

    // Signed properly, the same bytes verify (for ids of visible ASCII, as delivery ids are).
    let id = String::from_utf8_lossy(id.unwrap_or_default()).into_owned();
    let well_formed = !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic());
    if let (true, Ok(id_value)) = (well_formed, HeaderValue::from_str(&id)) {
        let mut signed = HeaderMap::new();
        signed.insert("webhook-id", id_value);
        signed.insert("webhook-timestamp", HeaderValue::from(now.timestamp()));
        let signature = sign(&secret, &id, now.timestamp(), body);
        signed.insert("webhook-signature", HeaderValue::from_str(&signature).unwrap());
        match verifier.verify_at(&signed, body, now) {
            Ok(_) => {}
            Err(sophic::webhooks::WebhookError::InvalidPayload(_)) => {}
            Err(e) => panic!("a properly signed delivery failed: {e}"),
        }
    }
});
