//! Wire shapes the SDK relies on: decimals as strings with their scale, forward-compatible
//! enums, and one JSON Schema per model.

use rust_decimal::Decimal;
use serde_json::json;
use sophic_client::types::{
    CashBalance, Currency, Error as ApiError, ErrorCode, EventName, Order, OrderStatus,
    PlaceOrderRequest,
};

fn documented_order() -> serde_json::Value {
    json!({
        "id": "ord_abc123", "account": "acc_123456", "status": "placed",
        "order_type": "market", "purpose": "user_request", "position": null, "side": "buy",
        "instrument": {"id": "ins_xyz789", "name": "Kenya 2024 Bond A", "symbol": "KE2024A",
                       "instrument_type": "bond"},
        "cash_amount": "100.00", "net_cash_amount": "99.50", "quantity": null,
        "traded_quantity": "0", "traded_notional": "0", "fees": "0.50", "currency": "USD",
        "automatic_rollover": false, "cancelled_reason": null, "filled_at": null,
        "settled_at": null, "cancelled_at": null, "trades": [],
        "created_at": "2026-03-12T14:30:00Z", "modified_at": "2026-03-12T14:30:00Z"
    })
}

#[test]
fn decimals_are_json_strings_that_keep_their_scale() {
    let balance: CashBalance = serde_json::from_value(json!({
        "currency": "USD", "total": "100.00", "available": "99.50", "reserved": "0.50"
    }))
    .unwrap();
    assert_eq!(balance.total, Decimal::new(10000, 2));
    assert_eq!(balance.total.scale(), 2);
    insta::assert_json_snapshot!(balance, @r#"
    {
      "available": "99.50",
      "currency": "USD",
      "reserved": "0.50",
      "total": "100.00"
    }
    "#);
}

#[test]
fn a_decimal_sent_as_a_json_number_is_refused() {
    let err = serde_json::from_value::<CashBalance>(json!({
        "currency": "USD", "total": 100.1, "available": "1", "reserved": "0"
    }))
    .unwrap_err();
    assert!(
        err.to_string().contains("invalid type: floating point"),
        "{err}"
    );
}

#[test]
fn a_place_order_request_serializes_its_amount_as_a_string() {
    let body = PlaceOrderRequest::builder()
        .instrument("ins_xyz789")
        .order_type(sophic_client::types::OrderType::Market)
        .side(sophic_client::types::OrderSide::Buy)
        .cash_amount(Some("100.00".parse::<Decimal>().unwrap()));
    let body: PlaceOrderRequest = body.try_into().unwrap();
    insta::assert_json_snapshot!(body, @r#"
    {
      "cash_amount": "100.00",
      "instrument": "ins_xyz789",
      "order_type": "market",
      "side": "buy"
    }
    "#);
}

#[test]
fn the_documented_example_order_decodes_with_exact_amounts() {
    let order: Order = serde_json::from_value(documented_order()).unwrap();
    assert_eq!(order.cash_amount.unwrap().to_string(), "100.00");
    assert_eq!(order.fees.to_string(), "0.50");
    assert_eq!(order.net_cash_amount.unwrap().to_string(), "99.50");
    assert_eq!(order.currency, Currency::Usd);
    assert_eq!(serde_json::to_value(&order).unwrap(), documented_order());
}

#[test]
fn an_unknown_order_status_decodes_and_serializes_back_unchanged() {
    let mut wire = documented_order();
    wire["status"] = json!("partially_filled");
    let order: Order = serde_json::from_value(wire.clone()).unwrap();
    assert_eq!(
        order.status,
        OrderStatus::Unknown("partially_filled".into())
    );
    assert_eq!(order.status.to_string(), "partially_filled");
    assert_eq!(serde_json::to_value(&order).unwrap(), wire);
}

#[test]
fn known_enum_values_still_decode_to_their_variants() {
    let status: OrderStatus = serde_json::from_value(json!("settled")).unwrap();
    assert_eq!(status, OrderStatus::Settled);
    let name: EventName = serde_json::from_value(json!("order.filled")).unwrap();
    assert_eq!(name, EventName::OrderFilled);
}

#[test]
fn unknown_error_codes_and_event_names_decode() {
    let err: ApiError = serde_json::from_value(json!({
        "code": "account_frozen", "detail": "The account is frozen."
    }))
    .unwrap();
    assert_eq!(err.code, ErrorCode::Unknown("account_frozen".into()));
    let name: EventName = serde_json::from_value(json!("position.updated")).unwrap();
    assert_eq!(name, EventName::Unknown("position.updated".into()));
}

#[test]
fn parsing_typed_input_stays_strict() {
    assert_eq!(
        "filled".parse::<OrderStatus>().unwrap(),
        OrderStatus::Filled
    );
    assert!("fillled".parse::<OrderStatus>().is_err());
}

#[test]
fn unknown_fields_are_ignored() {
    let mut wire = documented_order();
    wire["venue"] = json!("XNAI");
    assert!(serde_json::from_value::<Order>(wire.clone()).is_ok());
    let order: Order = serde_json::from_value(wire).unwrap();
    assert_eq!(
        serde_json::to_value(&order).unwrap(),
        documented_order(),
        "the unknown field is dropped and nothing else changes"
    );
}

/// Every model's JSON Schema, as schemars derives it from the generated types.
macro_rules! schema_snapshots {
    ($($name:ident),* $(,)?) => {
        const MODELS: &[&str] = &[$(stringify!($name)),*];
        #[test]
        fn json_schema_of_every_model() {
            $(
                insta::assert_json_snapshot!(
                    stringify!($name),
                    schemars::schema_for!(sophic_client::types::$name)
                );
            )*
        }
    };
}

sophic_client::for_each_model!(schema_snapshots);

#[test]
fn every_schema_of_the_spec_has_a_json_schema_snapshot() {
    let spec: serde_json::Value =
        serde_yaml::from_str(include_str!("../../../openapi/orders.yaml")).unwrap();
    let mut in_spec: Vec<&str> = spec["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|name| !sophic_client::FOLDED_SCHEMAS.iter().any(|(f, _)| f == name))
        .collect();
    let mut pinned = MODELS.to_vec();
    in_spec.sort_unstable();
    pinned.sort_unstable();
    assert_eq!(
        in_spec, pinned,
        "sophic_client::for_each_model! must list every schema of the spec that has a type \
         (the others are in FOLDED_SCHEMAS)"
    );
}

#[test]
fn a_request_path_finds_its_operation_in_the_spec_table() {
    use sophic_client::{OPERATIONS, Operation};
    let find = |method, path| Operation::find(OPERATIONS, method, path).map(|op| op.id);
    assert_eq!(find("POST", "/accounts/acc_1/orders"), Some("place_order"));
    // Methods are case-sensitive (RFC 9110): `post` is no method of the spec, and the
    // sandbox's router answers it 405.
    assert_eq!(find("post", "/accounts/acc_1/orders"), None);
    assert_eq!(find("GET", "/accounts/acc_1/orders"), Some("list_orders"));
    assert_eq!(find("POST", "/auth/token"), Some("create_token"));
    // A placeholder is one segment, never none and never two.
    assert_eq!(find("POST", "/accounts//orders"), None);
    assert_eq!(find("POST", "/accounts/a/b/orders"), None);
    assert_eq!(find("POST", "/accounts/acc_1/orders/"), None);
    assert_eq!(find("DELETE", "/instruments"), None);
    assert_eq!(find("GET", "/instruments"), Some("list_instruments"));
    assert_eq!(find("GET", "/instruments/ins_1"), Some("get_instrument"));
    assert_eq!(find("GET", "/instrument/ins_1"), None);
    assert_eq!(find("GET", ""), None);
    assert_eq!(find("GET", "/"), None);
    // A literal segment wins over a placeholder.
    assert_eq!(
        find("GET", "/accounts/acc_1/orders/pending"),
        Some("list_pending_orders")
    );
    assert_eq!(
        find("GET", "/accounts/acc_1/orders/ord_1"),
        Some("get_order")
    );
    // Every operation is found at its own template with its parameters filled in.
    for op in OPERATIONS {
        let path = op
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "x_1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let found = Operation::find(OPERATIONS, op.method, &path).map(|op| op.id);
        assert_eq!(found, Some(op.id), "{}", op.path);
    }
    // What a body must be comes from the spec's requestBody and x-max-body-bytes.
    assert_eq!(Operation::PLACE_ORDER.media, Some("application/json"));
    assert_eq!(
        Operation::CREATE_TOKEN.media,
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(Operation::PLACE_ORDER.max_body_bytes, 1 << 20);
    assert_eq!(Operation::GET_ORDER.media, None);
}
