//! Request bodies checked against `openapi/orders.yaml` itself.
//!
//! The rules of a request's shape live in the spec: types, required fields, the decimal
//! grammar (`pattern`), closed values (`enum`), which fields a buy or a sell takes
//! (`oneOf` of two `additionalProperties: false` variants), lengths and bounds. The
//! sandbox reads them from `sophic_client::REQUEST_SCHEMAS` (the spec's request schemas
//! as JSON Schema, converted by `sophic-codegen`), compiles one validator per operation
//! at first use, and answers a body that breaks them with 400 `invalid_param`, one
//! `params[]` entry per field at fault (`body.cash_amount`, code `invalid`). What no
//! schema can say (balances, the instrument's own rules, the sandbox's limits) stays in
//! the handlers.
//!
//! A union (`PlaceOrderRequest`) is told apart the way a discriminator would: by the
//! variant whose single-valued properties (`side: [buy]`) the body has. Its errors are
//! that variant's, so a buy carrying `quantity` is told `body.quantity` is not allowed in
//! a buy, rather than "matches none of the variants".

use std::collections::HashMap;
use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::{Value, json};
use sophic_client::types::{ErrorParam, ErrorParamCode};

use crate::error::{ApiError, problem};

/// The validators of every operation with a JSON body, by operation id.
static BODIES: LazyLock<HashMap<String, Body>> = LazyLock::new(|| {
    let document: Value =
        serde_json::from_str(sophic_client::REQUEST_SCHEMAS).expect("REQUEST_SCHEMAS is JSON");
    let definitions = &document["definitions"];
    document["bodies"]
        .as_object()
        .expect("REQUEST_SCHEMAS has bodies")
        .iter()
        .map(|(operation, schema)| (operation.clone(), Body::new(definitions, schema)))
        .collect()
});

/// One operation's body rules.
struct Body {
    /// The schema itself; for a union told apart by selectors, without its `oneOf`, which
    /// the selected variant's validator checks instead (at most one variant can match
    /// distinct selectors, so this is the `oneOf`, checked once rather than per variant).
    own: Validator,
    /// The variants of a union, each with the values that select it.
    variants: Vec<Variant>,
    /// The properties that tell the variants apart (`side`): single-valued in every
    /// variant, with a different value in each.
    selectors: Vec<String>,
}

struct Variant {
    validator: Validator,
    /// Properties with a single allowed value (`side: buy`): the body has them all.
    selectors: Vec<(String, Value)>,
    /// What the variant is, for people ("a cash-based market buy").
    what: String,
}

fn compile(definitions: &Value, schema: &Value) -> Validator {
    let document = json!({"definitions": definitions, "allOf": [schema]});
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&document)
        .unwrap_or_else(|e| panic!("a request schema of the spec does not compile: {e}"))
}

impl Body {
    fn new(definitions: &Value, schema: &Value) -> Self {
        let named = |s: &Value| {
            s.get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/definitions/"))
                .map(str::to_string)
        };
        let name = named(schema);
        let union = name
            .as_ref()
            .and_then(|name| definitions[name]["oneOf"].as_array().cloned());
        let variants: Vec<Variant> = union
            .into_iter()
            .flatten()
            .filter_map(|variant| {
                let definition = &definitions[named(&variant)?];
                let selectors = definition["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(prop, s)| match s["enum"].as_array().map(Vec::as_slice) {
                        Some([only]) => Some((prop.clone(), only.clone())),
                        _ => None,
                    })
                    .collect();
                let what = definition["description"]
                    .as_str()
                    .unwrap_or("this variant")
                    .trim_end_matches('.')
                    .to_string();
                Some(Variant {
                    validator: compile(definitions, &variant),
                    selectors,
                    what: lowercase_first(&what),
                })
            })
            .collect();
        let mut selectors = distinguishing(&variants);
        let own = match &name {
            Some(name) if !selectors.is_empty() => {
                let mut rest = definitions[name].clone();
                rest.as_object_mut().map(|o| o.remove("oneOf"));
                compile(definitions, &rest)
            }
            _ => {
                // Variants no property tells apart: the `oneOf` stays in the schema, and
                // its errors are reported as the body's.
                selectors.clear();
                compile(definitions, schema)
            }
        };
        let variants = if selectors.is_empty() {
            Vec::new()
        } else {
            variants
        };
        Self {
            own,
            variants,
            selectors,
        }
    }

    /// The variant the body's selectors pick, if any.
    fn select(&self, body: &Value) -> Option<&Variant> {
        self.variants.iter().find(|v| {
            v.selectors
                .iter()
                .filter(|(prop, _)| self.selectors.contains(prop))
                .all(|(prop, value)| body.get(prop) == Some(value))
        })
    }

    fn check(&self, body: &Value) -> Result<(), Vec<ErrorParam>> {
        let selected = self.select(body);
        let union_ok =
            self.variants.is_empty() || selected.is_some_and(|v| v.validator.is_valid(body));
        if union_ok && self.own.is_valid(body) {
            return Ok(());
        }
        let mut problems = Vec::new();
        // The rules outside the union (the common properties), then the union's.
        for error in self.own.iter_errors(body) {
            if !is_union_error(error.kind()) {
                problems.push(to_problem(&error, None));
            }
        }
        // A body that is not even an object has nothing a variant could select.
        if !self.variants.is_empty() && body.is_object() {
            self.check_variant(body, selected, &mut problems);
        }
        if problems.is_empty() {
            // Invalid, yet no single rule to name: say so about the whole body.
            problems.push(problem(
                "body",
                ErrorParamCode::Invalid,
                "does not match the request schema",
            ));
        }
        dedupe(&mut problems);
        Err(problems)
    }

    fn check_variant(
        &self,
        body: &Value,
        selected: Option<&Variant>,
        problems: &mut Vec<ErrorParam>,
    ) {
        match selected {
            Some(variant) => {
                for error in variant.validator.iter_errors(body) {
                    problems.push(to_problem(&error, Some(&variant.what)));
                }
            }
            None => {
                // No variant is selected: name each selector, with the values it may take.
                for prop in &self.selectors {
                    let allowed: Vec<String> = self
                        .variants
                        .iter()
                        .filter_map(|v| v.selectors.iter().find(|(p, _)| p == prop))
                        .map(|(_, value)| value.to_string())
                        .collect();
                    let path = format!("body.{prop}");
                    problems.push(match body.get(prop) {
                        None | Some(Value::Null) => {
                            problem(&path, ErrorParamCode::Required, "is required")
                        }
                        Some(_) => problem(
                            &path,
                            ErrorParamCode::Invalid,
                            format!("must be one of {}", allowed.join(", ")),
                        ),
                    });
                }
            }
        }
    }
}

/// The properties single-valued in every variant, with a different value in each.
fn distinguishing(variants: &[Variant]) -> Vec<String> {
    let Some(first) = variants.first() else {
        return Vec::new();
    };
    first
        .selectors
        .iter()
        .map(|(prop, _)| prop)
        .filter(|prop| {
            let values: Vec<&Value> = variants
                .iter()
                .filter_map(|v| v.selectors.iter().find(|(p, _)| p == *prop))
                .map(|(_, value)| value)
                .collect();
            values.len() == variants.len()
                && values
                    .iter()
                    .enumerate()
                    .all(|(i, v)| !values[..i].contains(v))
        })
        .cloned()
        .collect()
}

fn is_union_error(kind: &ValidationErrorKind) -> bool {
    matches!(
        kind,
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::OneOfMultipleValid { .. }
    )
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `body.a.b[0]` for the instance path `/a/b/0`.
fn body_path(pointer: &str) -> String {
    let mut path = String::from("body");
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            path.push('.');
            path.push_str(&segment);
        }
    }
    path
}

/// One validation error as a `params[]` entry.
fn to_problem(error: &ValidationError<'_>, variant: Option<&str>) -> ErrorParam {
    let at = body_path(error.instance_path().as_str());
    let shown = |v: &Value| {
        let text = v.to_string();
        if text.len() > 40 {
            format!("{}…", &text[..text.floor_char_boundary(40)])
        } else {
            text
        }
    };
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let path = format!("{at}.{}", property.as_str().unwrap_or_default());
            let detail = match variant {
                Some(what) => format!("is required in {what}"),
                None => "is required".to_string(),
            };
            problem(&path, ErrorParamCode::Required, detail)
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let path = format!("{at}.{}", unexpected.first().map_or("", String::as_str));
            let detail = match variant {
                Some(what) => format!("is not allowed in {what}"),
                None => "is not allowed here".to_string(),
            };
            problem(&path, ErrorParamCode::NotAllowed, detail)
        }
        ValidationErrorKind::MaxLength { limit } => problem(
            &at,
            ErrorParamCode::TooLong,
            format!("must be at most {limit} characters"),
        ),
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => problem(
            &at,
            ErrorParamCode::TooSmall,
            format!("must be at least {limit}"),
        ),
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => problem(
            &at,
            ErrorParamCode::TooLarge,
            format!("must be at most {limit}"),
        ),
        ValidationErrorKind::Pattern { pattern } => problem(
            &at,
            ErrorParamCode::Invalid,
            format!("{} does not match {pattern}", shown(error.instance())),
        ),
        ValidationErrorKind::Enum { options } => problem(
            &at,
            ErrorParamCode::Invalid,
            format!("must be one of {options}, not {}", shown(error.instance())),
        ),
        ValidationErrorKind::Type { .. } | ValidationErrorKind::Format { .. } => {
            problem(&at, ErrorParamCode::Invalid, error.to_string())
        }
        _ => problem(&at, ErrorParamCode::Invalid, error.to_string()),
    }
}

/// One entry per path: the first rule broken there.
fn dedupe(problems: &mut Vec<ErrorParam>) {
    let mut seen = std::collections::HashSet::new();
    problems.retain(|p| seen.insert(p.path.clone()));
}

/// A query or header parameter of an operation, as the spec declares it.
struct Parameter {
    name: String,
    /// Where a refusal points: `query.limit`, `header.Idempotency-Key`.
    path: String,
    in_header: bool,
    required: bool,
    /// The JSON type a query string's text is read as (`integer`, `boolean`, …), for the
    /// parameter or, for an array, its items.
    scalar: Option<String>,
    array: bool,
    /// The schema's `default`, the value an absent parameter has.
    default: Option<Value>,
    validator: Validator,
}

/// The query and header parameters of every operation that has some, by operation id.
static PARAMETERS: LazyLock<HashMap<String, Vec<Parameter>>> = LazyLock::new(|| {
    let document: Value =
        serde_json::from_str(sophic_client::REQUEST_SCHEMAS).expect("REQUEST_SCHEMAS is JSON");
    let definitions = &document["definitions"];
    document["parameters"]
        .as_object()
        .expect("REQUEST_SCHEMAS has parameters")
        .iter()
        .map(|(operation, declared)| {
            let parameters = declared
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let schema = &p["schema"];
                    let array = schema["type"] == "array";
                    let typed = if array { &schema["items"] } else { schema };
                    let name = p["name"].as_str().unwrap_or_default().to_string();
                    let in_header = p["in"] == "header";
                    Parameter {
                        path: format!("{}.{name}", if in_header { "header" } else { "query" }),
                        name,
                        in_header,
                        required: p["required"].as_bool().unwrap_or(false),
                        scalar: typed["type"].as_str().map(str::to_string),
                        array,
                        default: schema.get("default").cloned(),
                        validator: compile(definitions, schema),
                    }
                })
                .collect();
            (operation.clone(), parameters)
        })
        .collect()
});

/// The spec's default of the query parameter `name` (the same parameter, such as
/// `limit`, in every operation that takes it).
pub(crate) fn query_default(name: &str) -> Option<&'static Value> {
    PARAMETERS
        .values()
        .flatten()
        .find(|p| !p.in_header && p.name == name)
        .and_then(|p| p.default.as_ref())
}

/// A query string's text as the JSON value the parameter's schema expects: `"10"` is
/// `10` for an integer; text that is not one stays text, for the schema to refuse.
fn typed(text: &str, scalar: Option<&str>) -> Value {
    let parsed = match scalar {
        Some("integer") => text.parse::<i64>().ok().map(Value::from),
        Some("number") => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        Some("boolean") => text.parse::<bool>().ok().map(Value::Bool),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_string()))
}

/// Checks the request's query and header parameters against `operation`'s in the spec:
/// each one present is read as its schema's type and validated; a required one must be
/// there. Parameters the spec does not declare are left alone.
pub(crate) fn check_parameters<B>(
    operation: &str,
    request: &axum::http::Request<B>,
) -> Result<(), ApiError> {
    let Some(declared) = PARAMETERS.get(operation) else {
        return Ok(());
    };
    let query: Vec<(String, String)> = match request.uri().query() {
        Some(raw) if declared.iter().any(|p| !p.in_header) => {
            url::form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        }
        _ => Vec::new(),
    };
    let mut problems = Vec::new();
    for parameter in declared {
        let path = &parameter.path;
        let value = if parameter.in_header {
            match request.headers().get(&parameter.name) {
                None => None,
                Some(v) => match v.to_str() {
                    Ok(text) => Some(Value::String(text.to_string())),
                    Err(_) => {
                        problems.push(problem(
                            path,
                            ErrorParamCode::Invalid,
                            "must be visible ASCII",
                        ));
                        continue;
                    }
                },
            }
        } else {
            let mut values = query
                .iter()
                .filter(|(k, _)| *k == parameter.name)
                .map(|(_, v)| typed(v, parameter.scalar.as_deref()));
            if parameter.array {
                let all: Vec<Value> = values.collect();
                (!all.is_empty()).then_some(Value::Array(all))
            } else {
                // A repeated scalar: the last one counts, as the handlers read it.
                values.next_back()
            }
        };
        match value {
            None if parameter.required => {
                problems.push(problem(path, ErrorParamCode::Required, "is required"));
            }
            None => {}
            Some(value) if parameter.validator.is_valid(&value) => {}
            Some(value) => {
                if let Some(error) = parameter.validator.iter_errors(&value).next() {
                    let mut found = to_problem(&error, None);
                    found.path = format!("{path}{}", found.path.trim_start_matches("body"));
                    problems.push(found);
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(problems))
    }
}

/// The operation of a request, as the front door found it in the spec's table.
pub(crate) fn operation_of<B>(
    request: &axum::http::Request<B>,
) -> Option<&'static sophic_client::Operation> {
    request
        .extensions()
        .get::<super::SpecOperation>()
        .map(|op| op.0)
}

/// A JSON body checked against its operation's schema in the spec, then decoded.
pub(crate) struct Json<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let operation = operation_of(&request).map_or("unknown", |op| op.id);
        // The guard read the body already, bounded; this only takes the bytes out.
        let raw = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::param("body", ErrorParamCode::Invalid, "could not be read"))?;
        let value = checked_body(operation, &raw)?;
        serde_json::from_value(value)
            .map(Json)
            .map_err(|e| ApiError::param("body", ErrorParamCode::Invalid, e.to_string()))
    }
}

/// Parses a JSON body and checks it against operation `operation`'s schema in the spec.
/// An operation without a JSON body in the spec accepts any JSON.
pub(crate) fn checked_body(operation: &str, raw: &[u8]) -> Result<Value, ApiError> {
    let body: Value = serde_json::from_slice(raw)
        .map_err(|_| ApiError::param("body", ErrorParamCode::Invalid, "must be JSON"))?;
    if let Some(rules) = BODIES.get(operation) {
        rules.check(&body).map_err(ApiError::invalid)?;
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: Value) -> Vec<(String, String)> {
        checked_body("place_order", body.to_string().as_bytes())
            .err()
            .map(|e| {
                e.body()
                    .params
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| (p.path, p.code.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_buy_and_a_sell_of_the_right_shape_pass() {
        let buy = json!({"instrument": "ins_x", "order_type": "market", "side": "buy",
                         "cash_amount": "100.00", "automatic_rollover": true});
        let sell = json!({"instrument": "ins_x", "order_type": "market", "side": "sell",
                          "quantity": "10.125"});
        assert!(refusal(buy).is_empty());
        assert!(refusal(sell).is_empty());
    }

    #[test]
    fn a_buy_carrying_quantity_is_told_which_field_is_not_allowed() {
        let buy = json!({"instrument": "ins_x", "order_type": "market", "side": "buy",
                         "cash_amount": "100.00", "quantity": "1"});
        assert_eq!(refusal(buy), pairs(&[("body.quantity", "not_allowed")]));
        let sell = json!({"instrument": "ins_x", "order_type": "market", "side": "sell",
                          "quantity": "1", "automatic_rollover": true});
        assert_eq!(
            refusal(sell),
            pairs(&[("body.automatic_rollover", "invalid")])
        );
    }

    #[test]
    fn amounts_outside_the_grammar_name_the_field() {
        for bad in [
            "1_000", "1e2", "+100", " 100", "100.", "100.005", "0", "0.00", "-1",
        ] {
            let buy = json!({"instrument": "ins_x", "order_type": "market", "side": "buy",
                             "cash_amount": bad});
            assert_eq!(
                refusal(buy),
                pairs(&[("body.cash_amount", "invalid")]),
                "{bad:?}"
            );
        }
        let number = json!({"instrument": "ins_x", "order_type": "market", "side": "buy",
                            "cash_amount": 100});
        assert_eq!(refusal(number), pairs(&[("body.cash_amount", "invalid")]));
    }

    #[test]
    fn a_missing_or_unknown_side_is_named_itself() {
        let none = json!({"instrument": "ins_x", "order_type": "market", "cash_amount": "1"});
        assert_eq!(refusal(none), pairs(&[("body.side", "required")]));
        let odd = json!({"instrument": "ins_x", "order_type": "market", "side": "short"});
        assert_eq!(refusal(odd), pairs(&[("body.side", "invalid")]));
        let missing = json!({"order_type": "market", "side": "buy"});
        assert_eq!(
            refusal(missing),
            pairs(&[
                ("body.instrument", "required"),
                ("body.cash_amount", "required")
            ])
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_or_not_json_is_refused_as_the_body() {
        assert_eq!(refusal(json!([1])), pairs(&[("body", "invalid")]));
        let err = checked_body("place_order", b"{").unwrap_err();
        assert_eq!(err.body().params.unwrap()[0].path, "body");
    }

    fn parameter_refusal(operation: &str, uri: &str, key: Option<String>) -> Vec<(String, String)> {
        let mut request = axum::http::Request::builder().uri(uri);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let request = request.body(()).unwrap();
        check_parameters(operation, &request)
            .err()
            .map(|e| {
                e.body()
                    .params
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| (p.path, p.code.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn query_and_header_parameters_follow_the_spec() {
        let list = "list_orders";
        assert!(parameter_refusal(list, "/x?limit=500&status=placed&status=odd", None).is_empty());
        assert_eq!(
            parameter_refusal(list, "/x?limit=0", None),
            pairs(&[("query.limit", "too_small")])
        );
        assert_eq!(
            parameter_refusal(list, "/x?limit=501", None),
            pairs(&[("query.limit", "too_large")])
        );
        assert_eq!(
            parameter_refusal(list, "/x?limit=ten&created%5Bgte%5D=yesterday", None),
            pairs(&[
                ("query.created[gte]", "invalid"),
                ("query.limit", "invalid")
            ])
        );
        assert_eq!(
            parameter_refusal("place_order", "/x", Some("k".repeat(256))),
            pairs(&[("header.Idempotency-Key", "too_long")])
        );
        assert!(parameter_refusal("place_order", "/x", Some("k".repeat(255))).is_empty());
        assert_eq!(query_default("limit"), Some(&json!(100)));
    }

    #[test]
    fn paths_follow_the_contract() {
        assert_eq!(body_path(""), "body");
        assert_eq!(body_path("/enabled_events/0"), "body.enabled_events[0]");
        assert_eq!(body_path("/a~1b"), "body.a/b");
    }
}
