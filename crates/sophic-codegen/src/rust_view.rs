//! The spec as the Rust generator sees it.
//!
//! `openapi/orders.yaml` states its rules for every reader (validators, schemathesis, Prism,
//! generators in other languages, the sandbox's run-time validator). Three of its shapes
//! make typify produce types a Rust user should not get, so before progenitor reads the
//! spec this pass rewrites them into the shape the Rust types have always had. The rules
//! stay in the spec; only the Rust types are shaped here (decision 0009):
//!
//! - **Decimal schemas.** `CashAmount`, `Decimal` and friends are strings with a `format:
//!   decimal` and a `pattern` (the decimal grammar). typify matches a conversion against
//!   the whole schema, so a schema with a pattern would become a regex-checked `String`.
//!   Every use of a component whose `format` is `decimal` (a `$ref`, or an `allOf` of one
//!   `$ref` beside a description) becomes the inline `type: string, format: decimal`,
//!   which the conversion maps to `rust_decimal::Decimal` (a value that cannot hold a
//!   malformed string), and the components themselves are dropped.
//! - **Open enums.** A server-owned enum is `anyOf: [{type: string, enum: [..]}, {type:
//!   string}]` so that every generator accepts values it does not know. Here it becomes
//!   the closed enum again, which [`crate::open_enums`] then opens the Rust way (an
//!   `Unknown(String)` variant and exhaustive matches).
//! - **A union of objects**, an object schema whose `oneOf` variants are `$ref`s
//!   (`PlaceOrderRequest`: a buy or a sell, told apart by `side`), becomes one flat
//!   struct: the parent's own properties, then each variant's others; `required` is the
//!   parent's plus what every variant requires. A property that the variants spell
//!   differently must be one the parent states (its type wins), or generation fails
//!   here, naming it, so the decision is made in the spec. The variants are dropped.

use serde_json::{Map, Value};

use crate::CodegenError;

const SCHEMA_REF: &str = "#/components/schemas/";

/// What the pass rewrote, for the tests and the curious.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rewrites {
    /// Decimal components inlined (and dropped).
    pub decimals: Vec<String>,
    /// The `pattern` of each decimal component that has one (the decimal grammar).
    pub patterns: Vec<(String, String)>,
    /// Open enums closed for typify.
    pub open_enums: Vec<String>,
    /// Unions of objects flattened, with the variants dropped.
    pub flattened: Vec<(String, Vec<String>)>,
}

/// Rewrites `spec` (an OpenAPI document as JSON) in place; see the module docs.
pub fn rewrite(spec: &mut Value) -> Result<Rewrites, CodegenError> {
    let mut rewrites = Rewrites::default();
    let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return Ok(rewrites);
    };
    // Decimal components: their inline form, without the pattern.
    let decimals: Map<String, Value> = schemas
        .iter()
        .filter(|(_, s)| s.get("format").and_then(Value::as_str) == Some("decimal"))
        .map(|(name, s)| {
            let mut inline = Map::new();
            inline.insert(
                "type".into(),
                s.get("type").cloned().unwrap_or("string".into()),
            );
            inline.insert("format".into(), "decimal".into());
            if let Some(nullable) = s.get("nullable") {
                inline.insert("nullable".into(), nullable.clone());
            }
            (name.clone(), Value::Object(inline))
        })
        .collect();
    for name in decimals.keys() {
        if let Some(pattern) = schemas[name].get("pattern").and_then(Value::as_str) {
            rewrites.patterns.push((name.clone(), pattern.to_string()));
        }
        schemas.shift_remove(name);
        rewrites.decimals.push(name.clone());
    }
    // Unions of objects, flattened before the variants go.
    let unions: Vec<String> = schemas
        .iter()
        .filter(|(_, s)| is_union_of_objects(s))
        .map(|(name, _)| name.clone())
        .collect();
    for name in unions {
        let variants = flatten(schemas, &name)?;
        for variant in &variants {
            schemas.shift_remove(variant);
        }
        rewrites.flattened.push((name, variants));
    }
    for (name, schema) in schemas.iter_mut() {
        close_open_enums(schema, name, &mut rewrites.open_enums);
    }
    inline_decimals(spec, &decimals);
    Ok(rewrites)
}

/// An object schema whose `oneOf` variants are all `$ref`s (a buy or a sell).
fn is_union_of_objects(schema: &Value) -> bool {
    schema.get("type") == Some(&Value::from("object"))
        && schema
            .get("oneOf")
            .and_then(Value::as_array)
            .is_some_and(|variants| variants.iter().all(|v| ref_name(v).is_some()))
}

/// The component a `$ref` names, if it is a schema component.
fn ref_name(value: &Value) -> Option<&str> {
    value.get("$ref")?.as_str()?.strip_prefix(SCHEMA_REF)
}

/// Replaces every use of a decimal component, anywhere in the document.
fn inline_decimals(value: &mut Value, decimals: &Map<String, Value>) {
    match value {
        Value::Object(map) => {
            let target = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(SCHEMA_REF))
                .map(str::to_string)
                .or_else(|| single_all_of(map));
            if let Some(inline) = target.and_then(|t| decimals.get(&t)) {
                map.remove("$ref");
                map.remove("allOf");
                for (k, v) in inline.as_object().expect("inline decimals are objects") {
                    map.insert(k.clone(), v.clone());
                }
            }
            for child in map.values_mut() {
                inline_decimals(child, decimals);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| inline_decimals(i, decimals)),
        _ => {}
    }
}

/// The component of an `allOf` holding a single `$ref`.
fn single_all_of(map: &Map<String, Value>) -> Option<String> {
    match map.get("allOf")?.as_array()?.as_slice() {
        [only] => ref_name(only).map(str::to_string),
        _ => None,
    }
}

/// Closes every open enum in `schema` (itself or nested, such as an inline property),
/// recording where each one was.
fn close_open_enums(schema: &mut Value, at: &str, found: &mut Vec<String>) {
    if close_open_enum(schema) {
        found.push(at.to_string());
    }
    match schema {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                close_open_enums(child, &format!("{at}.{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                close_open_enums(child, &format!("{at}[{i}]"), found);
            }
        }
        _ => {}
    }
}

/// `anyOf: [{type: string, enum}, {type: string}]` becomes `type: string, enum`.
fn close_open_enum(schema: &mut Value) -> bool {
    let Some(map) = schema.as_object_mut() else {
        return false;
    };
    let closed = match map
        .get("anyOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        Some([known, open])
            if known.get("enum").is_some()
                && known.get("type") == Some(&Value::from("string"))
                && open.as_object().is_some_and(|o| {
                    o.get("type") == Some(&Value::from("string"))
                        && o.keys()
                            .all(|k| matches!(k.as_str(), "type" | "description" | "nullable"))
                }) =>
        {
            known.clone()
        }
        _ => return false,
    };
    map.remove("anyOf");
    for (k, v) in closed.as_object().expect("checked above") {
        if k != "description" {
            map.insert(k.clone(), v.clone());
        }
    }
    true
}

/// Flattens the union `name` in place; returns its variants' names.
fn flatten(schemas: &mut Map<String, Value>, name: &str) -> Result<Vec<String>, CodegenError> {
    let fail = |why: String| CodegenError::Parse(format!("{name}: {why}"));
    let parent = schemas[name].as_object().cloned().unwrap_or_default();
    let variants: Vec<String> = parent["oneOf"]
        .as_array()
        .ok_or_else(|| fail("oneOf is not a list".into()))?
        .iter()
        .map(|v| {
            ref_name(v)
                .map(str::to_string)
                .ok_or_else(|| fail("every oneOf variant must be a $ref".into()))
        })
        .collect::<Result<_, _>>()?;
    let mut properties = parent
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let own: Vec<String> = properties.keys().cloned().collect();
    let mut required: Vec<Value> = parent
        .get("required")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut common: Option<Vec<Value>> = None;
    for variant in &variants {
        let schema = schemas
            .get(variant)
            .ok_or_else(|| fail(format!("variant {variant} is not a schema")))?;
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (prop, spelled) in props {
                if own.contains(prop) {
                    continue;
                }
                match properties.get(prop) {
                    None => {
                        properties.insert(prop.clone(), spelled.clone());
                    }
                    Some(seen) if seen == spelled => {}
                    Some(_) => {
                        return Err(fail(format!(
                            "the variants spell property `{prop}` differently; state it in \
                             {name}'s own properties to say which type the flat struct has"
                        )));
                    }
                }
            }
        }
        let needs = schema
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        common = Some(match common {
            None => needs,
            Some(so_far) => so_far.into_iter().filter(|r| needs.contains(r)).collect(),
        });
    }
    for r in common.unwrap_or_default() {
        if !required.contains(&r) {
            required.push(r);
        }
    }
    let mut flat = Map::new();
    flat.insert("type".into(), "object".into());
    if let Some(description) = parent.get("description") {
        flat.insert("description".into(), description.clone());
    }
    flat.insert("required".into(), Value::Array(required));
    flat.insert("properties".into(), Value::Object(properties));
    if let Some(example) = parent.get("example") {
        flat.insert("example".into(), example.clone());
    }
    schemas.insert(name.to_string(), Value::Object(flat));
    Ok(variants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(schemas: Value) -> Value {
        json!({"components": {"schemas": schemas}})
    }

    #[test]
    fn decimal_components_are_inlined_wherever_they_are_used() {
        let mut doc = spec(json!({
            "Amount": {"type": "string", "format": "decimal", "pattern": "^[0-9]+$"},
            "Order": {"type": "object", "properties": {
                "cash": {"allOf": [{"$ref": "#/components/schemas/Amount"}], "description": "d"},
                "fees": {"type": "string", "nullable": true,
                         "allOf": [{"$ref": "#/components/schemas/Amount"}]},
                "plain": {"$ref": "#/components/schemas/Amount"},
            }}
        }));
        let rewrites = rewrite(&mut doc).unwrap();
        assert_eq!(rewrites.decimals, ["Amount"]);
        assert_eq!(
            rewrites.patterns,
            [("Amount".to_string(), "^[0-9]+$".to_string())]
        );
        let props = &doc["components"]["schemas"]["Order"]["properties"];
        assert_eq!(
            props["cash"],
            json!({"type": "string", "format": "decimal", "description": "d"})
        );
        assert_eq!(
            props["fees"],
            json!({"type": "string", "format": "decimal", "nullable": true})
        );
        assert_eq!(
            props["plain"],
            json!({"type": "string", "format": "decimal"})
        );
        assert!(doc["components"]["schemas"].get("Amount").is_none());
    }

    #[test]
    fn an_open_enum_is_closed_for_typify_and_other_any_ofs_are_left_alone() {
        let mut doc = spec(json!({
            "Status": {"description": "d", "anyOf": [
                {"type": "string", "enum": ["a", "b"]}, {"type": "string"}]},
            "Either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "Order": {"properties": {"reason": {"nullable": true, "anyOf": [
                {"type": "string", "enum": ["x"]}, {"type": "string"}]}}},
        }));
        let rewrites = rewrite(&mut doc).unwrap();
        assert_eq!(rewrites.open_enums, ["Status", "Order.properties.reason"]);
        assert_eq!(
            doc["components"]["schemas"]["Order"]["properties"]["reason"],
            json!({"nullable": true, "type": "string", "enum": ["x"]})
        );
        assert_eq!(
            doc["components"]["schemas"]["Status"],
            json!({"description": "d", "type": "string", "enum": ["a", "b"]})
        );
        assert!(
            doc["components"]["schemas"]["Either"]
                .get("anyOf")
                .is_some()
        );
    }

    fn union(buy_side: Value, parent_props: Value) -> Value {
        spec(json!({
                    "Req": {"type": "object", "required": ["side"], "properties": parent_props,
                            "oneOf": [{"$ref": "#/components/schemas/Buy"},
                                      {"$ref": "#/components/schemas/Sell"}],
        },
                    "Buy": {"type": "object", "required": ["side", "cash", "id"], "properties": {
                        "side": buy_side, "cash": {"type": "string"}, "id": {"type": "string"}}},
                    "Sell": {"type": "object", "required": ["side", "units", "id"], "properties": {
                        "side": {"type": "string", "enum": ["sell"]}, "units": {"type": "string"},
                        "id": {"type": "string"}}},
                }))
    }

    #[test]
    fn a_union_of_objects_becomes_one_struct_whose_parent_types_win() {
        let mut doc = union(
            json!({"type": "string", "enum": ["buy"]}),
            json!({"side": {"$ref": "#/components/schemas/Side"}}),
        );
        let rewrites = rewrite(&mut doc).unwrap();
        assert_eq!(
            rewrites.flattened,
            [(
                "Req".to_string(),
                vec!["Buy".to_string(), "Sell".to_string()]
            )]
        );
        let req = &doc["components"]["schemas"]["Req"];
        assert_eq!(req["required"], json!(["side", "id"]));
        assert_eq!(
            req["properties"],
            json!({"side": {"$ref": "#/components/schemas/Side"}, "cash": {"type": "string"},
                   "id": {"type": "string"}, "units": {"type": "string"}})
        );
        assert!(req.get("oneOf").is_none());
        assert!(doc["components"]["schemas"].get("Buy").is_none());
    }

    #[test]
    fn variants_that_disagree_on_a_property_the_parent_does_not_state_fail_naming_it() {
        let mut doc = union(json!({"type": "string", "enum": ["buy"]}), json!({}));
        let err = rewrite(&mut doc).unwrap_err().to_string();
        assert!(err.contains("Req") && err.contains("`side`"), "{err}");
    }
}
