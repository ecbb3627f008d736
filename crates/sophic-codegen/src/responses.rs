//! Decoding answers without copying their headers.
//!
//! progenitor's `ResponseValue::from_response` clones the answer's `HeaderMap` before it
//! reads the body, on every call. The pass points every such call at
//! `crate::response_value`, which `sophic-client` defines with the same signature and
//! moves the headers out instead. Nothing else about the answer changes: the same status,
//! headers, body errors and payload errors.

use syn::visit_mut::{self, VisitMut};
use syn::{Expr, ExprPath, File};

/// The function the generated code calls instead of `ResponseValue::from_response`.
pub const DECODER: &str = "crate::response_value";

/// Rewrites every `ResponseValue::from_response(..)` call of `file`; returns how many.
pub fn move_response_headers(file: &mut File) -> usize {
    let mut pass = Rewrite { count: 0 };
    pass.visit_file_mut(file);
    pass.count
}

struct Rewrite {
    count: usize,
}

impl VisitMut for Rewrite {
    fn visit_expr_call_mut(&mut self, call: &mut syn::ExprCall) {
        visit_mut::visit_expr_call_mut(self, call);
        if let Expr::Path(ExprPath { path, .. }) = call.func.as_mut() {
            let mut last_two = path.segments.iter().rev().take(2).map(|s| &s.ident);
            if last_two.next().is_some_and(|i| i == "from_response")
                && last_two.next().is_some_and(|i| i == "ResponseValue")
            {
                *path = syn::parse_str(DECODER).expect("a path");
                self.count += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_every_from_response_call_and_nothing_else() {
        let mut file: File = syn::parse_quote! {
            async fn f() {
                match status {
                    200u16 => ResponseValue::from_response(response).await,
                    400u16..=499u16 => Err(Error::ErrorResponse(
                        ResponseValue::from_response(response).await?,
                    )),
                    _ => ResponseValue::stream(response),
                }
            }
        };
        assert_eq!(move_response_headers(&mut file), 2);
        let text = prettyplease::unparse(&file);
        assert_eq!(text.matches("crate::response_value(response)").count(), 2);
        assert!(!text.contains("from_response"));
        assert!(text.contains("ResponseValue::stream(response)"));
    }
}
