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

use openapiv3::{OpenAPI, Parameter, ReferenceOr};
use syn::{File, parse_quote};

/// The header whose presence on an operation marks it as keyed.
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

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
}

/// Every operation of `spec.paths`, in the spec's order.
pub fn operations(spec: &OpenAPI) -> Vec<OperationRow> {
    let mut rows = Vec::new();
    for (path, item) in &spec.paths.paths {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        for (method, operation) in item.iter() {
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
                id: operation.operation_id.clone().unwrap_or_default(),
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                keyed,
            });
        }
    }
    rows
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

/// Appends `Operation` and `OPERATIONS` to `file`; returns how many operations.
pub fn append_operation_table(file: &mut File, spec: &OpenAPI) -> usize {
    let rows = operations(spec);
    let entries = rows.iter().map(|row| {
        let (id, method, path, keyed) = (&row.id, &row.method, &row.path, row.keyed);
        quote::quote! {
            Operation { id: #id, method: #method, path: #path, keyed: #keyed }
        }
    });
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
                    .find(|op| op.method.eq_ignore_ascii_case(method) && op.path == path)
            }
        }
    });
    rows.len()
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
        let rows = operations(&spec);
        let summary: Vec<_> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.method.as_str(), r.keyed))
            .collect();
        assert_eq!(summary, [("list", "GET", false), ("place", "POST", true)]);
        let mut file: File = parse_quote!();
        assert_eq!(append_operation_table(&mut file, &spec), 2);
        let text = prettyplease::unparse(&file);
        assert!(text.contains("pub const OPERATIONS"), "{text}");
    }
}
