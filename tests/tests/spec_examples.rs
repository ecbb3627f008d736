//! Every `example` in `openapi/orders.yaml` deserializes into its generated type and
//! serializes back to equal JSON, so the examples and the types can never drift apart.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use sophic_client::types;
use sophic_tests::orders_spec;

fn roundtrip<T: DeserializeOwned + Serialize>(example: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(example.clone()).map_err(|e| format!("decode: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("encode: {e}"))?;
    if &back == example {
        Ok(())
    } else {
        Err(format!(
            "re-serialized differently:\n example: {example}\n    back: {back}"
        ))
    }
}

macro_rules! by_name {
    ($($name:ident),* $(,)?) => {
        /// Round-trips `example` through the type named `name` (or `Vec` of it).
        fn roundtrip_named(name: &str, is_array: bool, example: &Value) -> Result<(), String> {
            match (name, is_array) {
                $(
                    (stringify!($name), false) => roundtrip::<types::$name>(example),
                    (stringify!($name), true) => roundtrip::<Vec<types::$name>>(example),
                )*
                _ => match sophic_client::FOLDED_SCHEMAS.iter().find(|(f, _)| *f == name) {
                    Some((_, "rust_decimal::Decimal")) => roundtrip::<rust_decimal::Decimal>(example),
                    Some((_, carrier)) => roundtrip_named(carrier, is_array, example),
                    None => Err(format!("no generated type is known for schema {name}")),
                },
            }
        }
    };
}

sophic_client::for_each_model!(by_name);

/// The component a schema names, and whether it is an array of it.
fn schema_target(schema: &Value) -> Option<(String, bool)> {
    let name_of = |s: &Value| {
        s["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .map(str::to_string)
    };
    if schema["type"] == "array" {
        name_of(&schema["items"]).map(|n| (n, true))
    } else {
        name_of(schema).map(|n| (n, false))
    }
}

/// Follows a `$ref` to `#/components/examples/X` to its value.
fn example_value<'a>(spec: &'a Value, example: &'a Value) -> &'a Value {
    match example["$ref"].as_str() {
        Some(r) => {
            let name = r
                .strip_prefix("#/components/examples/")
                .expect("an example ref");
            &spec["components"]["examples"][name]["value"]
        }
        None => &example["value"],
    }
}

/// The operations of a path item (skipping its shared `parameters`).
fn operations(item: &Value) -> impl Iterator<Item = (&String, &Value)> {
    const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];
    item.as_object()
        .unwrap()
        .iter()
        .filter(|(method, _)| METHODS.contains(&method.as_str()))
}

/// Every (place, schema name, is array, example) of the spec.
fn all_examples(spec: &Value) -> Vec<(String, String, bool, Value)> {
    let mut found = Vec::new();
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        if let Some(example) = schema.get("example") {
            found.push((
                format!("components.schemas.{name}"),
                name.clone(),
                false,
                example.clone(),
            ));
        }
    }
    let mut media_types = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in operations(item) {
            if let Some(content) = op["requestBody"]["content"].as_object() {
                for (mime, media) in content {
                    media_types.push((format!("{method} {path} request {mime}"), media.clone()));
                }
            }
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                let response = match response["$ref"].as_str() {
                    Some(r) => {
                        let name = r.strip_prefix("#/components/responses/").unwrap();
                        spec["components"]["responses"][name].clone()
                    }
                    None => response.clone(),
                };
                for (mime, media) in response["content"].as_object().into_iter().flatten() {
                    media_types.push((format!("{method} {path} {status} {mime}"), media.clone()));
                }
            }
        }
    }
    for (place, media) in media_types {
        let (name, is_array) = schema_target(&media["schema"])
            .unwrap_or_else(|| panic!("{place}: schema is not a component or array of one"));
        if let Some(example) = media.get("example") {
            found.push((place.clone(), name.clone(), is_array, example.clone()));
        }
        for (key, example) in media["examples"].as_object().into_iter().flatten() {
            let value = example_value(spec, example).clone();
            found.push((
                format!("{place} examples.{key}"),
                name.clone(),
                is_array,
                value,
            ));
        }
    }
    found
}

#[test]
fn every_example_in_the_spec_round_trips_through_its_generated_type() {
    let spec = orders_spec();
    let examples = all_examples(&spec);
    let failures: Vec<String> = examples
        .iter()
        .filter_map(|(place, name, is_array, example)| {
            roundtrip_named(name, *is_array, example)
                .err()
                .map(|e| format!("{place} ({name}): {e}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Each operation has at least its success example; schemas have theirs.
    assert!(
        examples.len() >= 50,
        "only {} examples found",
        examples.len()
    );
}

#[test]
fn every_schema_and_every_success_response_has_an_example() {
    let spec = orders_spec();
    let examples = all_examples(&spec);
    for name in spec["components"]["schemas"].as_object().unwrap().keys() {
        assert!(
            examples.iter().any(|(_, n, _, _)| n == name),
            "schema {name} has no example"
        );
    }
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in operations(item) {
            let success = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .find(|s| s.starts_with('2'))
                .unwrap_or_else(|| panic!("{method} {path} has no success response"));
            let prefix = format!("{method} {path} {success} ");
            assert!(
                examples
                    .iter()
                    .any(|(place, ..)| place.starts_with(&prefix)),
                "{method} {path} {success} has no example"
            );
        }
    }
}

#[test]
fn the_documented_example_order_is_in_the_spec() {
    let spec = orders_spec();
    let order = &spec["components"]["examples"]["PlacedBuyOrder"]["value"];
    assert_eq!(order["instrument"]["id"], "ins_xyz789");
    assert_eq!(order["cash_amount"], "100.00");
    assert_eq!(order["fees"], "0.50");
    assert_eq!(order["net_cash_amount"], "99.50");
    let typed: types::Order = serde_json::from_value(order.clone()).unwrap();
    assert_eq!(
        typed.cash_amount.unwrap() - typed.fees,
        typed.net_cash_amount.unwrap()
    );
}
