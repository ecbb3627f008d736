//! The spec's list of operations, as data.
//!
//! The sandbox routes, names faults and checks that it serves every operation; the SDK
//! names each call in its traces. Written by hand, each list is a second copy of `paths`
//! that goes stale when Sophic adds an operation. This pass appends the list to the
//! generated source, built from the spec itself:
//!
//! ```ignore
//! for op in sophic_client::OPERATIONS { println!("{} {} {}", op.method, op.path, op.id) }
//! ```
//!
//! Each row also says what a request body of the operation must be: its media type (the
//! `requestBody`'s one content type) and its largest size, the spec's
//! [`MAX_BODY_EXTENSION`] (on the `requestBody` for an operation with a limit of its own,
//! such as a snapshot import, else the document's). The sandbox's front door reads both
//! from here, so a limit or a media type lives in the spec only.
//!
//! [`operation_table`] writes the same rows for a second document (the sandbox's control
//! spec) as a constant of this `Operation` type.

use openapiv3::{OpenAPI, Parameter, ReferenceOr};
use syn::{File, parse_quote};

use crate::CodegenError;

/// The header whose presence on an operation marks it as keyed.
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The extension stating the largest request body, in bytes: at the document's root (every
/// operation) and on a `requestBody` (that operation's own).
pub const MAX_BODY_EXTENSION: &str = "x-max-body-bytes";

/// One operation of the spec: what codegen knows of it, before any Rust is generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationRow {
    /// `operationId`.
    pub id: String,
    /// Upper-case method.
    pub method: String,
    /// The path template, as the spec writes it (`/accounts/{account_id}/orders`).
    pub path: String,
    /// Whether it takes an `Idempotency-Key` header.
    pub keyed: bool,
    /// The media type of its request body, if it takes one.
    pub media: Option<String>,
    /// The largest request body it reads, in bytes.
    pub max_body_bytes: u64,
}

/// A byte count from an extension's value, if it is a positive integer.
fn byte_limit(value: Option<&serde_json::Value>, at: &str) -> Result<Option<u64>, CodegenError> {
    match value {
        None => Ok(None),
        Some(value) => match value.as_u64() {
            Some(bytes) if bytes > 0 => Ok(Some(bytes)),
            _ => Err(CodegenError::Parse(format!(
                "{MAX_BODY_EXTENSION} at {at} must be a positive integer (bytes), not {value}"
            ))),
        },
    }
}

/// Every operation of `spec.paths`, in the spec's order. An operation with a request body
/// needs a limit ([`MAX_BODY_EXTENSION`]) and exactly one media type.
pub fn operations(spec: &OpenAPI) -> Result<Vec<OperationRow>, CodegenError> {
    let document_limit = byte_limit(
        spec.extensions.get(MAX_BODY_EXTENSION),
        "the document's root",
    )?;
    let mut rows = Vec::new();
    for (path, item) in &spec.paths.paths {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        for (method, operation) in item.iter() {
            let id = operation.operation_id.clone().unwrap_or_default();
            let body = match &operation.request_body {
                None => None,
                Some(ReferenceOr::Item(body)) => Some(body),
                Some(ReferenceOr::Reference { reference }) => {
                    let name = reference.strip_prefix("#/components/requestBodies/");
                    match name.and_then(|n| spec.components.as_ref()?.request_bodies.get(n)) {
                        Some(ReferenceOr::Item(body)) => Some(body),
                        _ => {
                            return Err(CodegenError::Parse(format!(
                                "{id}: the request body {reference} is not a component"
                            )));
                        }
                    }
                }
            };
            let media = match body {
                None => None,
                Some(body) if body.content.len() == 1 => body.content.keys().next().cloned(),
                Some(_) => {
                    return Err(CodegenError::Parse(format!(
                        "{id}: a request body needs exactly one media type"
                    )));
                }
            };
            let own_limit = match body {
                Some(body) => byte_limit(
                    body.extensions.get(MAX_BODY_EXTENSION),
                    &format!("{id}'s requestBody"),
                )?,
                None => None,
            };
            let max_body_bytes = match own_limit.or(document_limit) {
                Some(bytes) => bytes,
                None if body.is_none() => 0,
                None => {
                    return Err(CodegenError::Parse(format!(
                        "{id} takes a request body but the spec states no {MAX_BODY_EXTENSION} \
                         (at its root, or on the requestBody)"
                    )));
                }
            };
            let keyed = item
                .parameters
                .iter()
                .chain(&operation.parameters)
                .filter_map(|p| resolve(spec, p))
                .any(|p| {
                    matches!(p, Parameter::Header { .. })
                        && p.parameter_data_ref().name == IDEMPOTENCY_KEY
                });
            rows.push(OperationRow {
                id,
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                keyed,
                media,
                max_body_bytes,
            });
        }
    }
    Ok(rows)
}

/// A parameter, following a `#/components/parameters/…` reference.
fn resolve<'a>(spec: &'a OpenAPI, parameter: &'a ReferenceOr<Parameter>) -> Option<&'a Parameter> {
    match parameter {
        ReferenceOr::Item(p) => Some(p),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/parameters/")?;
            match spec.components.as_ref()?.parameters.get(name)? {
                ReferenceOr::Item(p) => Some(p),
                ReferenceOr::Reference { .. } => None,
            }
        }
    }
}

/// One row as an `Operation` literal (of the type at `ty`).
fn entry(row: &OperationRow, ty: &syn::Path) -> proc_macro2::TokenStream {
    let (id, method, path, keyed) = (&row.id, &row.method, &row.path, row.keyed);
    let media = match &row.media {
        Some(media) => quote::quote!(Some(#media)),
        None => quote::quote!(None),
    };
    let max = usize::try_from(row.max_body_bytes).unwrap_or(usize::MAX);
    quote::quote! {
        #ty {
            id: #id,
            method: #method,
            path: #path,
            keyed: #keyed,
            media: #media,
            max_body_bytes: #max,
        }
    }
}

/// The operations of another document (`spec_yaml`, such as the sandbox's control spec)
/// as `pub const NAME: &[sophic_client::Operation]`, formatted Rust source.
pub fn operation_table(spec_yaml: &str, name: &str) -> Result<String, CodegenError> {
    let spec: OpenAPI =
        serde_yaml::from_str(spec_yaml).map_err(|e| CodegenError::Parse(e.to_string()))?;
    let ty: syn::Path = parse_quote!(sophic_client::Operation);
    let rows = operations(&spec)?;
    let entries = rows.iter().map(|row| entry(row, &ty));
    let name = syn::Ident::new(name, proc_macro2::Span::call_site());
    let doc = format!(
        " Every operation of `{}`, in its order (generated by `sophic-codegen`).",
        spec.info.title
    );
    let file: File = parse_quote! {
        #[doc = #doc]
        pub const #name: &[#ty] = &[#(#entries),*];
    };
    Ok(format!(
        "// @generated by sophic-codegen from {}. DO NOT EDIT.\n{}",
        spec.info.title,
        prettyplease::unparse(&file)
    ))
}

/// Appends `Operation` and `OPERATIONS` to `file`; returns how many operations.
pub fn append_operation_table(file: &mut File, spec: &OpenAPI) -> Result<usize, CodegenError> {
    let rows = operations(spec)?;
    let ty: syn::Path = parse_quote!(Operation);
    let entries = rows.iter().map(|row| entry(row, &ty));
    file.items.push(parse_quote! {
        /// One operation of `openapi/orders.yaml`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct Operation {
            /// The spec's `operationId` (`place_order`).
            pub id: &'static str,
            /// The HTTP method, upper case.
            pub method: &'static str,
            /// The path template (`/accounts/{account_id}/orders`).
            pub path: &'static str,
            /// Whether it takes an `Idempotency-Key` header.
            pub keyed: bool,
            /// The media type its request body must declare (`application/json`), if it
            /// takes a body.
            pub media: Option<&'static str>,
            /// The largest request body it reads, in bytes: the spec's
            /// `x-max-body-bytes` (the operation's own, or the document's); 0 when the
            /// spec states none and it takes no body.
            pub max_body_bytes: usize,
        }
    });
    let consts = rows.iter().zip(entries).map(|(row, entry)| {
        let name = syn::Ident::new(&row.id.to_ascii_uppercase(), proc_macro2::Span::call_site());
        let doc = format!("`{} {}` (`{}`).", row.method, row.path, row.id);
        quote::quote! {
            #[doc = #doc]
            pub const #name: Operation = #entry;
        }
    });
    let names = rows
        .iter()
        .map(|row| syn::Ident::new(&row.id.to_ascii_uppercase(), proc_macro2::Span::call_site()));
    file.items.push(parse_quote! {
        /// Each operation by name (`Operation::PLACE_ORDER`), so code that names one
        /// fails to compile when the spec renames or removes it.
        impl Operation {
            #(#consts)*
        }
    });
    file.items.push(parse_quote! {
        /// Every operation of the spec, in its order: generated from `paths`, so an
        /// operation added to the spec is here at the next build.
        pub const OPERATIONS: &[Operation] = &[#(Operation::#names),*];
    });
    file.items.push(parse_quote! {
        impl Operation {
            /// The operation with this `operationId`.
            pub fn by_id(id: &str) -> Option<&'static Operation> {
                OPERATIONS.iter().find(|op| op.id == id)
            }

            /// The operation at this method and path template.
            pub fn at(method: &str, path: &str) -> Option<&'static Operation> {
                OPERATIONS
                    .iter()
                    .find(|op| op.method == method && op.path == path)
            }

            /// Whether a request's path (`/accounts/acc_1/orders`, no query) is one of
            /// this operation's: each `{parameter}` of the template stands for one
            /// non-empty segment.
            pub fn matches_path(&self, path: &str) -> bool {
                self.literal_segments_matching(path).is_some()
            }

            /// How many of the template's segments are literal when `path` is this
            /// operation's; `None` when it is not. One pass over both, byte by byte (the
            /// sandbox pays it on every request).
            fn literal_segments_matching(&self, path: &str) -> Option<usize> {
                let (mut template, mut sent) = (self.path.as_bytes(), path.as_bytes());
                let mut literal = 0;
                loop {
                    let t_end = template.iter().position(|&b| b == b'/').unwrap_or(template.len());
                    let s_end = sent.iter().position(|&b| b == b'/').unwrap_or(sent.len());
                    let (t, s) = (&template[..t_end], &sent[..s_end]);
                    if t.starts_with(b"{") && t.ends_with(b"}") {
                        if s.is_empty() {
                            return None;
                        }
                    } else if t == s {
                        literal += 1;
                    } else {
                        return None;
                    }
                    match (t_end == template.len(), s_end == sent.len()) {
                        (true, true) => return Some(literal),
                        (false, false) => {
                            template = &template[t_end + 1..];
                            sent = &sent[s_end + 1..];
                        }
                        _ => return None,
                    }
                }
            }

            /// The operation of `table` a request's method (case-sensitive, as HTTP's
            /// are: `get` is not `GET`) and path are, preferring the
            /// template with more literal segments (`/faults/release` over
            /// `/faults/{id}`; of equals, the later).
            pub fn find(
                table: &'static [Operation],
                method: &str,
                path: &str,
            ) -> Option<&'static Operation> {
                let mut found: Option<(&'static Operation, usize)> = None;
                for op in table {
                    if op.method != method {
                        continue;
                    }
                    if let Some(literal) = op.literal_segments_matching(path)
                        && found.is_none_or(|(_, best)| literal >= best)
                    {
                        found = Some((op, literal));
                    }
                }
                found.map(|(op, _)| op)
            }
        }
    });
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_each_operation_with_its_key_header_followed_through_refs() {
        let spec: OpenAPI = serde_yaml::from_str(
            r##"
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /orders:
    post:
      operationId: place
      parameters: [{$ref: "#/components/parameters/Key"}]
      responses: {"201": {description: ok}}
    get:
      operationId: list
      responses: {"200": {description: ok}}
components:
  parameters:
    Key: {name: Idempotency-Key, in: header, schema: {type: string}}
"##,
        )
        .unwrap();
        let rows = operations(&spec).unwrap();
        let summary: Vec<_> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.method.as_str(), r.keyed))
            .collect();
        assert_eq!(summary, [("list", "GET", false), ("place", "POST", true)]);
        let mut file: File = parse_quote!();
        assert_eq!(append_operation_table(&mut file, &spec).unwrap(), 2);
        let text = prettyplease::unparse(&file);
        assert!(text.contains("pub const OPERATIONS"), "{text}");
    }

    fn rows_of(yaml: &str) -> Result<Vec<OperationRow>, CodegenError> {
        operations(&serde_yaml::from_str(yaml).unwrap())
    }

    #[test]
    fn a_body_has_its_media_type_and_the_documents_limit_or_its_own() {
        let rows = rows_of(
            r#"
openapi: 3.0.3
info: {title: t, version: '1'}
x-max-body-bytes: 1024
paths:
  /a:
    post:
      operationId: json
      requestBody: {content: {application/json: {schema: {type: object}}}}
      responses: {"204": {description: ok}}
    put:
      operationId: blob
      requestBody:
        x-max-body-bytes: 4096
        content: {application/octet-stream: {schema: {type: string, format: binary}}}
      responses: {"204": {description: ok}}
    get:
      operationId: bare
      responses: {"200": {description: ok}}
"#,
        )
        .unwrap();
        let summary: Vec<_> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.media.as_deref(), r.max_body_bytes))
            .collect();
        assert_eq!(
            summary,
            [
                ("bare", None, 1024),
                ("blob", Some("application/octet-stream"), 4096),
                ("json", Some("application/json"), 1024),
            ]
        );
    }

    #[test]
    fn a_body_without_a_limit_or_with_two_media_types_is_refused_by_name() {
        let without = rows_of(
            r#"
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /a:
    get: {operationId: bare, responses: {"200": {description: ok}}}
    post:
      operationId: json
      requestBody: {content: {application/json: {schema: {type: object}}}}
      responses: {"204": {description: ok}}
"#,
        )
        .unwrap_err()
        .to_string();
        assert!(without.contains("json takes a request body"), "{without}");
        assert!(without.contains(MAX_BODY_EXTENSION), "{without}");
        let two = rows_of(
            r#"
openapi: 3.0.3
info: {title: t, version: '1'}
x-max-body-bytes: 10
paths:
  /a:
    post:
      operationId: either
      requestBody:
        content:
          application/json: {schema: {type: object}}
          text/plain: {schema: {type: string}}
      responses: {"204": {description: ok}}
"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            two.contains("either: a request body needs exactly one media type"),
            "{two}"
        );
        let negative = rows_of(
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nx-max-body-bytes: -1\npaths: {}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            negative.contains("must be a positive integer"),
            "{negative}"
        );
    }

    #[test]
    fn another_documents_table_is_a_constant_of_the_clients_operation_type() {
        let source = operation_table(
            r#"
openapi: 3.0.3
info: {title: Control, version: '1'}
x-max-body-bytes: 64
paths:
  /sandbox/reset:
    post: {operationId: reset, responses: {"204": {description: ok}}}
"#,
            "CONTROL",
        )
        .unwrap();
        assert!(source.starts_with("// @generated by sophic-codegen from Control."));
        assert!(
            source.contains("pub const CONTROL: &[sophic_client::Operation]"),
            "{source}"
        );
        assert!(source.contains("max_body_bytes: 64usize"), "{source}");
    }
}
