//! Any bytes as an answer of the API: decoding never panics, and whatever decodes
//! serializes back to JSON that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::{Serialize, de::DeserializeOwned};
use sophic_client::types::{CashBalance, Error, Event, Instrument, Order, Position, TokenResponse, Webhook, WebhookDelivery};

fn roundtrip<T: DeserializeOwned + Serialize>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let json = serde_json::to_value(&value).expect("a decoded value serializes");
        let again: T = serde_json::from_value(json.clone()).expect("what serializes decodes");
        assert_eq!(serde_json::to_value(&again).unwrap(), json, "decode and encode agree");
    }
}

fuzz_target!(|data: &[u8]| {
    roundtrip::<Order>(data);
    roundtrip::<Vec<Order>>(data);
    roundtrip::<Error>(data);
    roundtrip::<Event>(data);
    roundtrip::<Instrument>(data);
    roundtrip::<CashBalance>(data);
    roundtrip::<Position>(data);
    roundtrip::<Webhook>(data);
    roundtrip::<WebhookDelivery>(data);
    roundtrip::<TokenResponse>(data);
});
