//! Generated types that survive additive changes (issue 12, decision 0015).
//!
//! A spec change that only adds (an optional field, an enum value) must not break a crate
//! that uses `sophic-client`. So every struct with named fields and every enum of the
//! `types` module is `#[non_exhaustive]`: outside this crate a struct is read, built with
//! its builder (`Order::builder()`), or destructured with `..`, and a `match` on an enum
//! has a wildcard arm.
//!
//! Where a new field or value must be a decision (the sandbox builds every response, the
//! SDK decides what each status means), the workspace uses the twins in
//! `types::exhaustive`: the same fields and variants, not `#[non_exhaustive]`, converted
//! both ways with `From`. A struct literal of a twin names every field, and a `match` on a
//! twin enum names every value, so the compiler asks for each new one there, where it
//! needs a decision. The twins are outside semver on purpose: code that uses them breaks
//! when the spec adds, as it should.

use std::collections::BTreeSet;

use proc_macro2::Span;
use syn::visit_mut::VisitMut;
use syn::{Attribute, Fields, File, Ident, Item, ItemEnum, ItemStruct, parse_quote};

/// The name of the module of twins.
pub const MODULE: &str = "exhaustive";

/// Marks the `types` module's structs and enums `#[non_exhaustive]` and adds their
/// exhaustive twins, with the conversions.
pub fn survive_additions(file: &mut File) {
    let Some(types) = crate::types_module(file) else {
        return;
    };
    let names: BTreeSet<String> = types
        .iter()
        .filter_map(|item| match item {
            Item::Struct(s) => Some(s.ident.to_string()),
            Item::Enum(e) => Some(e.ident.to_string()),
            Item::Type(t) => Some(t.ident.to_string()),
            _ => None,
        })
        .collect();
    let mut twins: Vec<Item> = Vec::new();
    let mut conversions: Vec<Item> = Vec::new();
    for item in types.iter_mut() {
        match item {
            Item::Struct(s) if matches!(s.fields, Fields::Named(_)) => {
                twins.push(Item::Struct(twin_struct(s, &names)));
                conversions.extend(struct_conversions(s));
                s.attrs.push(parse_quote!(#[non_exhaustive]));
            }
            Item::Enum(e) => {
                twins.push(Item::Enum(twin_enum(e)));
                conversions.extend(enum_conversions(e));
                e.attrs.push(parse_quote!(#[non_exhaustive]));
            }
            _ => {}
        }
    }
    let module = Ident::new(MODULE, Span::call_site());
    types.push(parse_quote! {
        /// Exhaustive twins of the generated structs and enums, for code that must decide
        /// about every field and value (decision 0015): a struct literal here names every
        /// field and a `match` names every value, so a spec that adds one fails to compile
        /// where it needs a decision. Not covered by semver: a spec that only adds breaks
        /// code that uses these, on purpose. Convert with `From`/`Into` (and an enum's
        /// `exhaustive()`). Hidden from the docs, as outside semver.
        #[doc(hidden)]
        pub mod #module {
            #(#twins)*
        }
    });
    types.extend(conversions);
}

/// Keeps what a twin needs of an item's attributes: its docs and its derives, less serde's
/// and schemars' (a twin is never on the wire).
fn twin_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    let mut kept: Vec<Attribute> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc") || a.path().is_ident("derive"))
        .cloned()
        .collect();
    crate::drop_derives(&mut kept, |d| {
        let last = d.segments.last().map(|s| s.ident.to_string());
        matches!(
            last.as_deref(),
            Some("Serialize" | "Deserialize" | "JsonSchema")
        )
    });
    kept
}

/// Inside the twins' module, a field's type names the real types (`super::Instrument`),
/// so that converting is a move.
struct ToParent<'a>(&'a BTreeSet<String>);

impl VisitMut for ToParent<'_> {
    fn visit_type_path_mut(&mut self, path: &mut syn::TypePath) {
        syn::visit_mut::visit_type_path_mut(self, path);
        if path.qself.is_none()
            && path.path.leading_colon.is_none()
            && path
                .path
                .segments
                .first()
                .is_some_and(|s| self.0.contains(&s.ident.to_string()))
        {
            path.path.segments.insert(0, parse_quote!(super));
        }
    }
}

fn twin_struct(s: &ItemStruct, names: &BTreeSet<String>) -> ItemStruct {
    let mut twin = s.clone();
    twin.attrs = twin_attrs(&s.attrs);
    for field in twin.fields.iter_mut() {
        field.attrs.retain(|a| a.path().is_ident("doc"));
        field.vis = parse_quote!(pub);
        ToParent(names).visit_type_mut(&mut field.ty);
    }
    twin
}

fn twin_enum(e: &ItemEnum) -> ItemEnum {
    let mut twin = e.clone();
    twin.attrs = twin_attrs(&e.attrs);
    for variant in twin.variants.iter_mut() {
        variant.attrs.retain(|a| a.path().is_ident("doc"));
    }
    twin
}

fn struct_conversions(s: &ItemStruct) -> Vec<Item> {
    let name = &s.ident;
    let module = Ident::new(MODULE, Span::call_site());
    let fields: Vec<&Ident> = s.fields.iter().filter_map(|f| f.ident.as_ref()).collect();
    vec![
        parse_quote! {
            impl ::std::convert::From<#name> for #module::#name {
                fn from(value: #name) -> Self {
                    let #name { #(#fields),* } = value;
                    Self { #(#fields),* }
                }
            }
        },
        parse_quote! {
            impl ::std::convert::From<#module::#name> for #name {
                fn from(value: #module::#name) -> Self {
                    let #module::#name { #(#fields),* } = value;
                    Self { #(#fields),* }
                }
            }
        },
    ]
}

/// `From` both ways and `exhaustive()`, each an exhaustive `match` here, where the enum is
/// defined (a unit variant, or `Unknown(String)` as the open enums pass wrote it).
fn enum_conversions(e: &ItemEnum) -> Vec<Item> {
    let name = &e.ident;
    let module = Ident::new(MODULE, Span::call_site());
    let arms = |from: syn::Path, to: syn::Path, borrowed: bool| -> Vec<syn::Arm> {
        e.variants
            .iter()
            .map(|v| {
                let variant = &v.ident;
                match &v.fields {
                    Fields::Unit => parse_quote!(#from::#variant => #to::#variant,),
                    _ if borrowed => {
                        parse_quote!(#from::#variant(value) => #to::#variant(::std::clone::Clone::clone(value)),)
                    }
                    _ => parse_quote!(#from::#variant(value) => #to::#variant(value),),
                }
            })
            .collect()
    };
    let to_twin = arms(parse_quote!(#name), parse_quote!(#module::#name), false);
    let from_twin = arms(parse_quote!(#module::#name), parse_quote!(#name), false);
    let borrowed = arms(parse_quote!(#name), parse_quote!(#module::#name), true);
    vec![
        parse_quote! {
            impl ::std::convert::From<#name> for #module::#name {
                fn from(value: #name) -> Self {
                    match value { #(#to_twin)* }
                }
            }
        },
        parse_quote! {
            impl ::std::convert::From<#module::#name> for #name {
                fn from(value: #module::#name) -> Self {
                    match value { #(#from_twin)* }
                }
            }
        },
        parse_quote! {
            impl #name {
                /// The value as its exhaustive twin, for a `match` that must name every
                /// value (decision 0015).
                pub fn exhaustive(&self) -> #module::#name {
                    match self { #(#borrowed)* }
                }
            }
        },
    ]
}
