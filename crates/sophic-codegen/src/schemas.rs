//! JSON Schemas of the generated types, behind the client crate's `schemars` feature.
//!
//! Every type can describe itself as a JSON Schema (`schemars::JsonSchema`), which the
//! wire tests snapshot and a user may want for their own documents. Few programs need it
//! at run time, and the derive is a tenth of the client crate's compile time, so this pass
//! puts every derive and every hand-written impl (the opened enums') under
//! `#[cfg(feature = "schemars")]`: `sophic-client = { features = ["schemars"] }` turns
//! them on.

use syn::{Attribute, File, Item, parse_quote};

/// The `sophic-client` feature that turns the schemas on.
pub const FEATURE: &str = "schemars";

/// Moves every `JsonSchema` derive and impl of the `types` module behind [`FEATURE`];
/// returns how many types it touched.
pub fn make_schemas_optional(file: &mut File) -> usize {
    let Some(types) = crate::types_module(file) else {
        return 0;
    };
    let mut count = 0;
    for item in types.iter_mut() {
        match item {
            Item::Struct(s) => count += usize::from(move_derive(&mut s.attrs)),
            Item::Enum(e) => count += usize::from(move_derive(&mut e.attrs)),
            Item::Impl(imp) if implements_json_schema(imp) => {
                imp.attrs.push(parse_quote!(#[cfg(feature = "schemars")]));
                count += 1;
            }
            _ => {}
        }
    }
    count
}

/// Takes `JsonSchema` out of the item's derives and derives it under the feature instead.
fn move_derive(attrs: &mut Vec<Attribute>) -> bool {
    let found = crate::drop_derives(attrs, is_json_schema);
    if found {
        attrs.push(parse_quote!(#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]));
    }
    found
}

fn is_json_schema(path: &syn::Path) -> bool {
    path.segments
        .last()
        .is_some_and(|s| s.ident == "JsonSchema")
}

fn implements_json_schema(imp: &syn::ItemImpl) -> bool {
    imp.trait_
        .as_ref()
        .is_some_and(|(_, path, _)| is_json_schema(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_and_impls_move_behind_the_feature() {
        let mut file: File = parse_quote! {
            pub mod types {
                #[derive(::serde::Serialize, Clone, schemars::JsonSchema)]
                pub struct Order { pub id: String }
                #[derive(Clone, Debug)]
                pub struct Plain;
                impl ::schemars::JsonSchema for Status {
                    fn schema_name() -> String { "Status".into() }
                }
                impl ::std::fmt::Display for Status {}
            }
        };
        assert_eq!(make_schemas_optional(&mut file), 2);
        let text = prettyplease::unparse(&file);
        assert!(
            text.contains("#[derive(::serde::Serialize, Clone)]\n    #[cfg_attr(feature = \"schemars\", derive(schemars::JsonSchema))]\n    pub struct Order"),
            "{text}"
        );
        assert!(
            text.contains("#[derive(Clone, Debug)]\n    pub struct Plain;"),
            "{text}"
        );
        assert!(
            text.contains(
                "#[cfg(feature = \"schemars\")]\n    impl ::schemars::JsonSchema for Status"
            ),
            "{text}"
        );
        assert!(!text.contains("#[cfg(feature = \"schemars\")]\n    impl ::std::fmt::Display"));
    }
}
