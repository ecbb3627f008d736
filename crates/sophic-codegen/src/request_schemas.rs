//! The spec's request schemas as JSON Schema, for a server that validates against them.
//!
//! The sandbox enforces `openapi/orders.yaml` by reading it: each JSON request body is
//! checked against its schema at run time (`sophic-sandbox`'s `spec` module). OpenAPI 3.0
//! schemas are not quite JSON Schema, so this pass converts them once, here, beside the
//! other readings of the spec, into one self-contained draft 7 document:
//!
//! - `$ref: '#/components/schemas/X'` becomes `#/definitions/X`, and every component is
//!   under `definitions`, so no reference leaves the document;
//! - `nullable: true` becomes `anyOf: [<the schema>, {type: null}]` (what schemathesis and
//!   Prism read it as);
//! - what validation ignores goes (`example`, `discriminator`, `x-…`, `xml`, `externalDocs`,
//!   `deprecated`, `readOnly`, `writeOnly`); `format: decimal`, unknown to JSON Schema, is
//!   kept and ignored, the `pattern` beside it carries the grammar.
//!
//! The document is `{"definitions": {...}, "bodies": {"<operation id>": <schema>},
//! "parameters": {"<operation id>": [{name, in, required, schema}]}}` (query and header
//! parameters; path parameters are the router's) and lands in the client crate as
//! `sophic_client::REQUEST_SCHEMAS`.

use serde_json::{Map, Value, json};
use syn::{File, parse_quote};

const OPENAPI_REF: &str = "#/components/schemas/";
const JSON_SCHEMA_REF: &str = "#/definitions/";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The request-schema document of `spec` (an OpenAPI 3.0 document as JSON).
pub fn request_schemas(spec: &Value) -> Value {
    let definitions: Map<String, Value> = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, schema)| (name.clone(), to_json_schema(schema)))
        .collect();
    let mut bodies = Map::new();
    let mut parameters = Map::new();
    for item in spec
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|paths| paths.values())
    {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let Some(id) = operation.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            if let Some(schema) = operation.pointer("/requestBody/content/application~1json/schema")
            {
                bodies.insert(id.to_string(), to_json_schema(schema));
            }
            let declared = query_and_header_parameters(spec, item, operation);
            if !declared.is_empty() {
                parameters.insert(id.to_string(), Value::Array(declared));
            }
        }
    }
    json!({"definitions": definitions, "bodies": bodies, "parameters": parameters})
}

/// The query and header parameters of an operation (its path item's, then its own, which
/// override them by name and place), `$ref`s followed: `{name, in, required, schema}`.
fn query_and_header_parameters(spec: &Value, item: &Value, operation: &Value) -> Vec<Value> {
    let resolve = |p: &Value| -> Value {
        match p
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/parameters/"))
        {
            Some(name) => spec["components"]["parameters"][name].clone(),
            None => p.clone(),
        }
    };
    let mut declared: Vec<Value> = Vec::new();
    let listed = [item, operation]
        .into_iter()
        .filter_map(|level| level.get("parameters").and_then(Value::as_array))
        .flatten()
        .map(resolve);
    for parameter in listed {
        let place = parameter["in"].as_str().unwrap_or_default();
        if place != "query" && place != "header" {
            continue;
        }
        let entry = json!({
            "name": parameter["name"],
            "in": place,
            "required": parameter["required"].as_bool().unwrap_or(false),
            "schema": to_json_schema(&parameter["schema"]),
        });
        declared.retain(|d| !(d["name"] == entry["name"] && d["in"] == entry["in"]));
        declared.push(entry);
    }
    declared
}

/// One OpenAPI 3.0 schema as a draft 7 schema (see the module docs).
pub fn to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                match key.as_str() {
                    "$ref" => {
                        let target = value.as_str().unwrap_or_default();
                        let target = target.strip_prefix(OPENAPI_REF).map_or_else(
                            || target.to_string(),
                            |n| format!("{JSON_SCHEMA_REF}{n}"),
                        );
                        out.insert(key.clone(), Value::String(target));
                    }
                    "nullable" | "example" | "discriminator" | "xml" | "externalDocs"
                    | "deprecated" | "readOnly" | "writeOnly" => {}
                    k if k.starts_with("x-") => {}
                    // Keywords whose value is a map of names to schemas, or a list of them:
                    // convert what they hold, not their own keys.
                    "properties" => {
                        let converted = value
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(name, s)| (name.clone(), to_json_schema(s)))
                            .collect();
                        out.insert(key.clone(), Value::Object(converted));
                    }
                    "enum" | "required" => {
                        out.insert(key.clone(), value.clone());
                    }
                    _ => {
                        out.insert(key.clone(), to_json_schema(value));
                    }
                }
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                return json!({"anyOf": [Value::Object(out), {"type": "null"}]});
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        other => other.clone(),
    }
}

/// Appends `REQUEST_SCHEMAS` (the [`request_schemas`] document, as compact JSON).
pub fn append_request_schemas(file: &mut File, spec: &Value) {
    let text = request_schemas(spec).to_string();
    file.items.push(parse_quote! {
        /// The spec's request schemas as one self-contained JSON Schema (draft 7)
        /// document, `{"definitions": {...}, "bodies": {"<operation id>": <schema>},
        /// "parameters": {"<operation id>": [{name, in, required, schema}]}}`: what a
        /// server validates JSON request bodies, query strings and headers against (see
        /// `sophic_codegen::request_schemas`).
        pub const REQUEST_SCHEMAS: &str = #text;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_point_into_the_document_and_nullable_becomes_any_of_null() {
        let schema = json!({
            "type": "object", "x-undocumented": true, "example": {"a": 1},
            "required": ["a"],
            "properties": {
                "a": {"$ref": "#/components/schemas/A"},
                "example": {"type": "string", "nullable": true, "example": "x"},
                "n": {"allOf": [{"$ref": "#/components/schemas/N"}], "description": "d"},
            }
        });
        assert_eq!(
            to_json_schema(&schema),
            json!({
                "type": "object", "required": ["a"],
                "properties": {
                    "a": {"$ref": "#/definitions/A"},
                    "example": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "n": {"allOf": [{"$ref": "#/definitions/N"}], "description": "d"},
                }
            })
        );
    }

    #[test]
    fn lists_query_and_header_parameters_with_refs_followed_and_overrides_applied() {
        let spec = json!({
            "paths": {"/orders/{id}": {
                "parameters": [{"name": "id", "in": "path", "schema": {"type": "string"}},
                               {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "get": {"operationId": "list", "parameters": [
                    {"$ref": "#/components/parameters/Key"},
                    {"name": "limit", "in": "query", "required": true,
                     "schema": {"type": "integer", "maximum": 5}}]},
            }},
            "components": {"parameters": {"Key": {"name": "Idempotency-Key", "in": "header",
                "schema": {"type": "string", "maxLength": 255}}}}
        });
        assert_eq!(
            request_schemas(&spec)["parameters"]["list"],
            json!([
                {"name": "Idempotency-Key", "in": "header", "required": false,
                 "schema": {"type": "string", "maxLength": 255}},
                {"name": "limit", "in": "query", "required": true,
                 "schema": {"type": "integer", "maximum": 5}},
            ])
        );
    }

    #[test]
    fn lists_the_json_bodies_by_operation_id_with_every_component() {
        let spec = json!({
            "paths": {"/orders": {
                "post": {"operationId": "place", "requestBody": {"content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Req"}}}}},
                "get": {"operationId": "list"},
            }, "/token": {"post": {"operationId": "token", "requestBody": {"content": {
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}}}}}}},
            "components": {"schemas": {"Req": {"type": "object"}}}
        });
        assert_eq!(
            request_schemas(&spec),
            json!({"definitions": {"Req": {"type": "object"}},
                   "bodies": {"place": {"$ref": "#/definitions/Req"}},
                   "parameters": {}})
        );
    }
}
