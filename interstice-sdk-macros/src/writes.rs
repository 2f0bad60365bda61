//! `writes(t, ...)`, `inserts(t, ...)`, `updates(t, ...)` and
//! `deletes(t, ...)` on `#[reducer]`: the tables of its module a reducer
//! may change, and how. `writes(t)` is all three events; `writes()` says
//! it changes nothing. The declaration goes into the module's
//! `interstice.writes` custom section (the schema does not change), where
//! the host reads it to refuse subscription cycles and holds the reducer
//! to it.

use interstice_abi::TableEvent;
use interstice_abi::writes::{DeclaredWrites, TableWrite, WRITES_SECTION};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;

/// The declaration as parsed; `None` until a keyword is seen.
#[derive(Default)]
pub struct Writes {
    declared: Option<(Span, Vec<TableWrite>)>,
}

impl Writes {
    /// Reads one of the four keywords, if `meta` is one; `Ok(false)` for
    /// anything else.
    pub fn parse(&mut self, meta: &syn::meta::ParseNestedMeta) -> syn::Result<bool> {
        let events: &[TableEvent] = if meta.path.is_ident("writes") {
            &[TableEvent::Insert, TableEvent::Update, TableEvent::Delete]
        } else if meta.path.is_ident("inserts") {
            &[TableEvent::Insert]
        } else if meta.path.is_ident("updates") {
            &[TableEvent::Update]
        } else if meta.path.is_ident("deletes") {
            &[TableEvent::Delete]
        } else {
            return Ok(false);
        };
        let span = meta
            .path
            .get_ident()
            .map_or_else(Span::call_site, |i| i.span());
        let (_, writes) = self.declared.get_or_insert_with(|| (span, Vec::new()));
        // `writes()` is allowed (nested-meta parsing refuses empty
        // parentheses): it declares that the reducer writes nothing.
        let content;
        syn::parenthesized!(content in meta.input);
        let tables = Punctuated::<syn::Ident, syn::Token![,]>::parse_terminated_with(
            &content,
            syn::Ident::parse_any,
        )
        .map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected table names, as in `writes(users)` or `inserts(log, events)`",
            )
        })?;
        for name in tables {
            for &event in events {
                writes.push(TableWrite {
                    table: name.to_string(),
                    event,
                });
            }
        }
        Ok(true)
    }

    /// A read-only reducer declares no writes.
    pub fn check(&self, read_only: bool) -> syn::Result<()> {
        match &self.declared {
            Some((span, writes)) if read_only && !writes.is_empty() => Err(syn::Error::new(
                *span,
                "a read-only reducer writes nothing: drop `read_only` or the tables",
            )),
            _ => Ok(()),
        }
    }

    /// The static that puts the declaration into the module's custom
    /// section, if there is one.
    pub fn section(&self, reducer: &str) -> syn::Result<Option<TokenStream>> {
        let Some((span, writes)) = &self.declared else {
            return Ok(None);
        };
        let declared = DeclaredWrites {
            reducer: reducer.to_owned(),
            writes: writes.clone(),
        };
        let bytes = declared
            .to_section_record()
            .map_err(|e| syn::Error::new(*span, e.to_string()))?;
        let len = bytes.len();
        Ok(Some(quote! {
            const _: () = {
                #[used]
                #[cfg_attr(target_family = "wasm", unsafe(link_section = #WRITES_SECTION))]
                static DECLARED_WRITES: [u8; #len] = [#(#bytes),*];
            };
        }))
    }
}
