//! Properties over generated inputs: amounts, ids and webhook signatures.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use sophic::webhooks::{SignedHeaders, Verifier, WebhookError, WebhookSecret, sign};
use sophic::{
    AccountId, Amount, EventId, InstrumentId, OrderId, PositionId, Quantity, TradeId,
    WebhookDeliveryId, WebhookId,
};

/// Plain decimal text without superfluous leading zeros: `0.05`, `12`, `100.00`.
fn decimal_text() -> impl Strategy<Value = String> {
    ("(0|[1-9][0-9]{0,11})", proptest::option::of("[0-9]{1,8}")).prop_map(|(whole, fraction)| {
        match fraction {
            Some(fraction) => format!("{whole}.{fraction}"),
            None => whole,
        }
    })
}

fn is_zero(text: &str) -> bool {
    text.bytes().all(|b| b == b'0' || b == b'.')
}

proptest! {
    #[test]
    fn positive_amounts_parse_and_print_back_unchanged(text in decimal_text()) {
        prop_assume!(!is_zero(&text));
        let scale = text.split_once('.').map_or(0, |(_, fraction)| fraction.len() as u32);
        // A cash amount carries at most 2 decimals (the spec's CashAmount); units any.
        prop_assert_eq!(text.parse::<Quantity>().unwrap().to_string(), text.clone());
        if scale > 2 {
            prop_assert!(text.parse::<Amount>().is_err());
            return Ok(());
        }
        let amount: Amount = text.parse().unwrap();
        prop_assert_eq!(amount.to_string(), text.clone());
        prop_assert_eq!(amount.get().scale(), scale);
        let json = serde_json::to_string(&amount).unwrap();
        prop_assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), amount);
        prop_assert_eq!(text.parse::<Quantity>().unwrap().get(), amount.get());
    }

    #[test]
    fn zero_in_any_notation_is_refused(text in "0{1,4}(\\.0{1,6})?") {
        prop_assert!(text.parse::<Amount>().is_err());
        prop_assert!(text.parse::<Quantity>().is_err());
    }

    #[test]
    fn negative_amounts_are_refused(text in decimal_text()) {
        let negative = format!("-{text}");
        prop_assert!(negative.parse::<Amount>().is_err());
        let value: Decimal = text.parse().unwrap();
        prop_assert!(Amount::new(-value).is_err());
    }

    #[test]
    fn a_decimal_is_an_amount_exactly_when_it_is_positive(mantissa in any::<i64>(), scale in 0u32..12) {
        let value = Decimal::new(mantissa, scale);
        prop_assert_eq!(Amount::new(value).is_ok(), value > Decimal::ZERO && scale <= 2);
        prop_assert_eq!(Quantity::new(value).is_ok(), value > Decimal::ZERO);
        if let Ok(amount) = Amount::new(value) {
            prop_assert_eq!(amount.get(), value);
            prop_assert_eq!(amount.get().scale(), scale);
        }
    }

    #[test]
    fn ids_with_their_prefix_round_trip(rest in "[A-Za-z0-9_-]{1,40}") {
        fn check<T>(prefix: &str, rest: &str) -> Result<(), TestCaseError>
        where
            T: std::str::FromStr + std::fmt::Display + serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
            T::Err: std::fmt::Debug,
        {
            let text = format!("{prefix}{rest}");
            let id: T = text.parse().unwrap();
            prop_assert_eq!(id.to_string(), text.clone());
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(json.clone(), format!("\"{text}\""));
            prop_assert_eq!(serde_json::from_str::<T>(&json).unwrap(), id);
            Ok(())
        }
        check::<AccountId>("acc_", &rest)?;
        check::<OrderId>("ord_", &rest)?;
        check::<InstrumentId>("ins_", &rest)?;
        check::<PositionId>("pos_", &rest)?;
        check::<TradeId>("trd_", &rest)?;
        check::<EventId>("evt_", &rest)?;
        check::<WebhookId>("wh_", &rest)?;
        check::<WebhookDeliveryId>("whd_", &rest)?;
    }

    #[test]
    fn an_id_with_another_kinds_prefix_is_refused(rest in "[A-Za-z0-9]{1,20}") {
        let with = |prefix: &str| format!("{prefix}{rest}");
        prop_assert!(with("acc_").parse::<OrderId>().is_err());
        prop_assert!(with("ord_").parse::<AccountId>().is_err());
        prop_assert!(with("whd_").parse::<WebhookId>().is_err());
        prop_assert!(with("evt_").parse::<InstrumentId>().is_err());
        let err = rest.parse::<OrderId>().unwrap_err();
        prop_assert_eq!(err.expected_prefix(), "ord_");
        prop_assert!(err.to_string().contains("`ord_`"));
    }

    #[test]
    fn an_id_with_a_character_outside_the_alphabet_is_refused(
        before in "[a-z0-9]{0,5}",
        bad in "[ /?#%.:\u{e9}\u{1F600}]",
        after in "[a-z0-9]{0,5}",
    ) {
        let text = format!("ord_{before}{bad}{after}");
        prop_assert!(text.parse::<OrderId>().is_err());
    }
}

fn secret_strategy() -> impl Strategy<Value = WebhookSecret> {
    any::<[u8; 32]>().prop_map(WebhookSecret::from_bytes)
}

const NOW: i64 = 1_773_325_800;

fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: i64,
    signature: &str,
    body: &[u8],
) -> Result<(), WebhookError> {
    let timestamp = timestamp.to_string();
    let headers = SignedHeaders {
        id,
        timestamp: &timestamp,
        signature,
    };
    let now = Utc.timestamp_opt(NOW, 0).unwrap();
    Verifier::new(secret.clone())
        .verify_signature_at(headers, body, now)
        .map(|_| ())
}

proptest! {
    #[test]
    fn signing_then_verifying_always_passes(
        secret in secret_strategy(),
        id in "whd_[A-Za-z0-9]{1,24}",
        skew in -300i64..=300,
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let timestamp = NOW + skew;
        let signature = sign(&secret, &id, timestamp, &body);
        prop_assert_eq!(verify(&secret, &id, timestamp, &signature, &body), Ok(()));
    }

    #[test]
    fn changing_any_byte_of_the_body_fails(
        secret in secret_strategy(),
        body in proptest::collection::vec(any::<u8>(), 1..512),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let signature = sign(&secret, "whd_1", NOW, &body);
        let mut tampered = body.clone();
        let i = index.index(tampered.len());
        tampered[i] ^= flip;
        prop_assert_eq!(verify(&secret, "whd_1", NOW, &signature, &tampered), Err(WebhookError::NoMatchingSignature));
    }

    #[test]
    fn changing_any_character_of_the_id_fails(
        secret in secret_strategy(),
        id in "whd_[A-Za-z0-9]{1,24}",
        index in any::<prop::sample::Index>(),
        replacement in "[A-Za-z0-9_]",
    ) {
        let signature = sign(&secret, &id, NOW, b"{}");
        let mut changed = id.clone().into_bytes();
        let i = index.index(changed.len());
        prop_assume!(changed[i] != replacement.as_bytes()[0]);
        changed[i] = replacement.as_bytes()[0];
        let changed = String::from_utf8(changed).unwrap();
        prop_assert_eq!(verify(&secret, &changed, NOW, &signature, b"{}"), Err(WebhookError::NoMatchingSignature));
    }

    #[test]
    fn changing_the_timestamp_fails(
        secret in secret_strategy(),
        delta in (-300i64..=300).prop_filter("a change", |d| *d != 0),
    ) {
        let signature = sign(&secret, "whd_1", NOW, b"{}");
        prop_assert_eq!(verify(&secret, "whd_1", NOW + delta, &signature, b"{}"), Err(WebhookError::NoMatchingSignature));
    }

    #[test]
    fn a_rotated_header_verifies_if_any_entry_matches(
        secret in secret_strategy(),
        others in proptest::collection::vec(secret_strategy(), 0..4),
        position in any::<prop::sample::Index>(),
        body in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let mut entries: Vec<String> = others.iter().map(|other| sign(other, "whd_1", NOW, &body)).collect();
        let at = position.index(entries.len() + 1);
        entries.insert(at, sign(&secret, "whd_1", NOW, &body));
        let header = entries.join(" ");
        prop_assert_eq!(verify(&secret, "whd_1", NOW, &header, &body), Ok(()));
        // And without the matching entry, nothing matches.
        entries.remove(at);
        if !entries.is_empty() {
            prop_assert_eq!(verify(&secret, "whd_1", NOW, &entries.join(" "), &body), Err(WebhookError::NoMatchingSignature));
        }
    }
}
