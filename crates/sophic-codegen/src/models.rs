//! The list of the spec's models, for code that must cover every one of them.
//!
//! Tests that snapshot each model's JSON Schema, or round-trip each example through its
//! type, need the names of all the types generated from `components.schemas`. Written by
//! hand, that list is a second copy of the spec that goes stale. This pass appends a macro
//! to the generated source, built from the spec itself:
//!
//! ```ignore
//! sophic_client::for_each_model!(my_macro);   // expands to my_macro!(CashBalance, …);
//! ```

use openapiv3::OpenAPI;
use syn::{File, Ident, parse_quote};

use crate::rust_view::Rewrites;

/// The Rust type that carries a decimal component's values.
pub const DECIMAL_TYPE: &str = "rust_decimal::Decimal";

/// Appends `FOLDED_SCHEMAS`: each schema of the spec that has no type of its own (see
/// [`crate::rust_view`]), with the type that carries its values; returns how many.
pub fn append_folded_list(file: &mut File, rewrites: &Rewrites) -> usize {
    let folded: Vec<(String, String)> =
        rewrites
            .decimals
            .iter()
            .map(|name| (name.clone(), DECIMAL_TYPE.to_string()))
            .chain(rewrites.flattened.iter().flat_map(|(union, variants)| {
                variants.iter().map(move |v| (v.clone(), union.clone()))
            }))
            .collect();
    let (names, carriers): (Vec<&String>, Vec<&String>) =
        folded.iter().map(|(n, c)| (n, c)).unzip();
    file.items.push(parse_quote! {
        /// The schemas of `components.schemas` that have no generated type of their own,
        /// each with the type that carries its values: decimal schemas are
        /// `rust_decimal::Decimal`, the variants of a union of objects are its flat struct.
        pub const FOLDED_SCHEMAS: &[(&str, &str)] = &[#((#names, #carriers)),*];
    });
    let (names, patterns): (Vec<&String>, Vec<&String>) =
        rewrites.patterns.iter().map(|(n, p)| (n, p)).unzip();
    file.items.push(parse_quote! {
        /// The `pattern` of each decimal schema of the spec, by schema name: the decimal
        /// grammar (contract section 1), as the spec states it. Checked with
        /// [`matches_decimal_schema`].
        pub const DECIMAL_PATTERNS: &[(&str, &str)] = &[#((#names, #patterns)),*];
    });
    folded.len()
}

/// Appends `for_each_model!` to `file`, listing every schema of `spec.components` (in the
/// spec's order); returns how many.
pub fn append_model_list(file: &mut File, spec: &OpenAPI) -> usize {
    let names: Vec<Ident> = spec
        .components
        .iter()
        .flat_map(|components| components.schemas.keys())
        .map(|name| Ident::new(name, proc_macro2::Span::call_site()))
        .collect();
    file.items.push(parse_quote! {
        /// Calls `$callback!` with the name of every type generated from the spec's
        /// `components.schemas`, comma-separated (`$callback!(CashBalance, Currency, …)`).
        #[macro_export]
        macro_rules! for_each_model {
            ($callback:ident) => {
                $callback!(#(#names),*);
            };
        }
    });
    names.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_component_schema_in_order() {
        let spec: OpenAPI = serde_yaml::from_str(
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    Order: {type: object}\n    Currency: {type: string}\n",
        )
        .unwrap();
        let mut file: File = parse_quote!();
        assert_eq!(append_model_list(&mut file, &spec), 2);
        let text = prettyplease::unparse(&file);
        assert!(text.contains("(Order, Currency);"), "{text}");
        assert!(text.contains("macro_rules! for_each_model"), "{text}");
        assert!(text.contains("#[macro_export]"), "{text}");
    }
}
