//! Forward-compatible string enums.
//!
//! typify generates closed enums: a status Sophic adds tomorrow (`"partially_filled"`) would
//! fail to decode the whole order. The contract requires clients to accept values they do
//! not know, so this pass rewrites every server-owned string enum of the `types` module:
//!
//! - a last variant `Unknown(String)` marked `#[serde(untagged)]`, so an unknown value
//!   decodes into it and serializes back unchanged;
//! - `Copy` is dropped from the derives (a `String` is not `Copy`);
//! - `Display` writes the unknown value verbatim;
//! - the derived `JsonSchema` (schemars 0.8 cannot express an untagged variant) is replaced
//!   by one that says what the type accepts: any string, the known values listed;
//! - the derived `Deserialize` is replaced by one that reads the string once and matches it:
//!   serde's untagged fallback buffers every value before trying the variants, which made
//!   decoding a list of orders 16–28% slower (BENCHMARKS.md).
//!
//! `FromStr` stays strict on purpose: it parses values typed by people (a CLI flag), where
//! a typo should be an error, not an unknown status.
//!
//! Enums in [`CLOSED_ENUMS`] stay closed: they are request-only constants (and a one-value
//! enum used as a discriminator must never be opened, or every variant would match it).

use syn::visit_mut::VisitMut;
use syn::{File, Ident, ImplItem, Item, ItemEnum, ItemImpl, Meta, Type, parse_quote};

/// Enums that are sent, never received, so there is nothing unknown to accept.
pub const CLOSED_ENUMS: &[&str] = &["GrantType"];

/// The name of the variant that holds a value this client does not know.
pub const UNKNOWN_VARIANT: &str = "Unknown";

/// Opens every server-owned string enum of the generated `types` module.
pub fn open_string_enums(file: &mut File) {
    let Some(types) = crate::types_module(file) else {
        return;
    };
    let mut opened: Vec<Ident> = Vec::new();
    let mut schemas: Vec<Item> = Vec::new();
    for item in types.iter_mut() {
        if let Item::Enum(e) = item
            && is_openable(e)
        {
            schemas.push(json_schema_impl(e));
            schemas.push(deserialize_impl(e));
            open_enum(e);
            opened.push(e.ident.clone());
        }
    }
    types.extend(schemas);
    let mut display = DisplayArms { opened: &opened };
    for item in types.iter_mut() {
        if let Item::Impl(imp) = item {
            display.visit_item_impl_mut(imp);
        }
    }
}

/// A string enum: unit variants only, each renamed to its wire value.
fn is_openable(e: &ItemEnum) -> bool {
    !CLOSED_ENUMS.contains(&e.ident.to_string().as_str())
        && !e.variants.is_empty()
        && e.variants.iter().all(|v| {
            matches!(v.fields, syn::Fields::Unit)
                && v.attrs.iter().any(|a| a.path().is_ident("serde"))
        })
}

fn open_enum(e: &mut ItemEnum) {
    crate::drop_derives(&mut e.attrs, is_dropped_derive);
    let unknown = Ident::new(UNKNOWN_VARIANT, proc_macro2::Span::call_site());
    e.variants.push(parse_quote! {
        /// A value this version of the client does not know, kept verbatim so that it
        /// serializes back unchanged.
        #[serde(untagged)]
        #unknown(::std::string::String)
    });
}

/// `Copy` cannot hold a `String`; `JsonSchema` and `Deserialize` are written by
/// [`json_schema_impl`] and [`deserialize_impl`].
fn is_dropped_derive(path: &syn::Path) -> bool {
    let last = path.segments.last().map(|s| s.ident.to_string());
    matches!(last.as_deref(), Some("Copy" | "JsonSchema" | "Deserialize"))
}

/// `Deserialize` for an opened enum: the string is matched where it lies (no allocation for
/// a known value), and an unknown one is kept.
fn deserialize_impl(e: &ItemEnum) -> Item {
    let ident = &e.ident;
    let name = ident.to_string();
    let values = wire_values(e);
    let variants: Vec<&Ident> = e.variants.iter().map(|v| &v.ident).collect();
    parse_quote! {
        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                struct Visitor;
                impl ::serde::de::Visitor<'_> for Visitor {
                    type Value = #ident;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a string (", #name, ")"))
                    }
                    fn visit_str<E: ::serde::de::Error>(
                        self,
                        value: &str,
                    ) -> ::std::result::Result<#ident, E> {
                        Ok(match value {
                            #(#values => #ident::#variants,)*
                            _ => #ident::Unknown(value.to_string()),
                        })
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
    }
}

/// The wire values of an enum's variants, from their `#[serde(rename = "...")]`.
fn wire_values(e: &ItemEnum) -> Vec<String> {
    e.variants
        .iter()
        .filter_map(|v| {
            let mut value = None;
            for attr in v.attrs.iter().filter(|a| a.path().is_ident("serde")) {
                let _ = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("rename") {
                        let lit: syn::LitStr = meta.value()?.parse()?;
                        value = Some(lit.value());
                    }
                    Ok(())
                });
            }
            value
        })
        .collect()
}

/// The enum's doc comment, joined into one description.
fn description(e: &ItemEnum) -> String {
    let lines: Vec<String> = e
        .attrs
        .iter()
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join(" ").trim().to_string()
}

/// `JsonSchema` for an opened enum: any string, with the known values listed first.
fn json_schema_impl(e: &ItemEnum) -> Item {
    let ident = &e.ident;
    let name = ident.to_string();
    let values = wire_values(e);
    let description = description(e);
    parse_quote! {
        impl ::schemars::JsonSchema for #ident {
            fn schema_name() -> ::std::string::String {
                #name.to_string()
            }
            fn json_schema(
                _: &mut ::schemars::r#gen::SchemaGenerator,
            ) -> ::schemars::schema::Schema {
                ::serde_json::from_value(::serde_json::json!({
                    "description": #description,
                    "anyOf": [
                        { "type": "string", "enum": [#(#values),*] },
                        { "type": "string", "description": "A value this client does not know yet." }
                    ]
                }))
                .expect("a valid JSON Schema")
            }
        }
    }
}

/// Adds the `Unknown` arm to the generated `Display` impls of opened enums.
struct DisplayArms<'a> {
    opened: &'a [Ident],
}

impl VisitMut for DisplayArms<'_> {
    fn visit_item_impl_mut(&mut self, imp: &mut ItemImpl) {
        let is_display = imp
            .trait_
            .as_ref()
            .and_then(|(_, path, _)| path.segments.last())
            .is_some_and(|s| s.ident == "Display");
        let Type::Path(self_ty) = &*imp.self_ty else {
            return;
        };
        let is_opened = self_ty
            .path
            .get_ident()
            .is_some_and(|ident| self.opened.contains(ident));
        if !(is_display && is_opened) {
            return;
        }
        for item in &mut imp.items {
            if let ImplItem::Fn(f) = item {
                for stmt in &mut f.block.stmts {
                    if let syn::Stmt::Expr(syn::Expr::Match(m), _) = stmt {
                        m.arms.push(parse_quote! {
                            Self::Unknown(ref value) => f.write_str(value),
                        });
                    }
                }
            }
        }
    }
}
