//! `#[reducer]`: a function becomes a reducer. It keeps the function,
//! adds the export the runtime calls (decoding the typed arguments and
//! passing the context), a `name::NAME` constant, and registers the
//! reducer (and its subscription, for `on = "..."`, and what it declares
//! it writes, for `writes(...)` and its kin).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, Pat, Type};

use crate::writes::Writes;

#[derive(Default)]
struct Args {
    read_only: bool,
    public: bool,
    on: Option<LitStr>,
    writes: Writes,
    /// `#[migration(table = "...", from = N)]`: the table and version.
    migration: Option<(LitStr, syn::LitInt)>,
}

/// `#[migration(table = "t", from = N)]`, and the `writes(...)` options
/// of a reducer.
fn parse_migration_args(attr: TokenStream) -> syn::Result<Args> {
    let mut args = Args::default();
    let (mut table, mut from) = (None, None);
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("table") {
            table = Some(meta.value()?.parse::<LitStr>()?);
        } else if meta.path.is_ident("from") {
            let v: syn::LitInt = meta.value()?.parse()?;
            if v.base10_parse::<u32>().map_or(true, |v| v == 0) {
                return Err(syn::Error::new(
                    v.span(),
                    "`from` is the table version the rows are in: a whole number from 1",
                ));
            }
            from = Some(v);
        } else if !args.writes.parse(&meta)? {
            return Err(meta.error(
                "unknown migration option: expected `table = \"name\"`, `from = N`, or `writes(table, ...)` (or `inserts`, `updates`, `deletes`)",
            ));
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    match (table, from) {
        (Some(table), Some(from)) => args.migration = Some((table, from)),
        _ => {
            return Err(syn::Error::new(
                Span::call_site(),
                "a migration names its table and the version it rewrites the rows from: `#[migration(table = \"accounts\", from = 2)]`",
            ));
        }
    }
    Ok(args)
}

fn parse_args(attr: TokenStream) -> syn::Result<Args> {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("read_only") {
            args.read_only = true;
        } else if meta.path.is_ident("public") {
            args.public = true;
        } else if meta.path.is_ident("on") {
            args.on = Some(meta.value()?.parse()?);
        } else if !args.writes.parse(&meta)? {
            return Err(meta.error(
                "unknown reducer option: expected `read_only`, `public`, `on = \"module.table.insert\"`, or `writes(table, ...)` (or `inserts`, `updates`, `deletes`)",
            ));
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    args.writes.check(args.read_only)?;
    Ok(args)
}

/// `module.table.event` or `table.event` (this module).
fn parse_on(on: &LitStr) -> syn::Result<(String, String, TokenStream)> {
    let value = on.value();
    let parts: Vec<&str> = value.split('.').collect();
    let (module, table, event) = match parts[..] {
        [table, event] => ("", table, event),
        [module, table, event] => (module, table, event),
        _ => {
            return Err(syn::Error::new(
                on.span(),
                "expected `on = \"module.table.event\"` (or `\"table.event\"` for this module's table), event one of insert, update, delete",
            ));
        }
    };
    let sdk = quote!(::interstice_sdk);
    let event = match event {
        "insert" => quote!(#sdk::abi::TableEvent::Insert),
        "update" => quote!(#sdk::abi::TableEvent::Update),
        "delete" => quote!(#sdk::abi::TableEvent::Delete),
        other => {
            return Err(syn::Error::new(
                on.span(),
                format!("unknown event `{other}`: expected insert, update or delete"),
            ));
        }
    };
    if table.is_empty() {
        return Err(syn::Error::new(on.span(), "the table name is empty"));
    }
    Ok((module.to_owned(), table.to_owned(), event))
}

/// The reducer's signature, checked: whether it takes `&mut` context, and
/// its parameters after the context.
struct Signature {
    ctx_mut: bool,
    params: Vec<(syn::Ident, Type)>,
}

/// Parses the attribute and the function, checks them, and generates the
/// reducer.
pub fn expand(attr: TokenStream, item: ItemFn) -> syn::Result<TokenStream> {
    generate(parse_args(attr)?, item)
}

/// `#[migration(...)]`: a private reducer without parameters, registered
/// as the migration of its table from a version.
pub fn expand_migration(attr: TokenStream, item: ItemFn) -> syn::Result<TokenStream> {
    generate(parse_migration_args(attr)?, item)
}

fn generate(args: Args, item: ItemFn) -> syn::Result<TokenStream> {
    let sig = parse_signature(&item.sig, &args)?;
    let migration = migration(&item.sig, &args, &sig)?;
    let subscription = subscription(&item.sig, &args, &sig)?;
    let export = export(&item.sig, &args, &sig);
    let marker = marker(&item, &args, &sig);
    let writes = args.writes.section(&item.sig.ident.to_string())?;
    Ok(quote! {
        #item
        #export
        #marker
        #subscription
        #migration
        #writes
    })
}

/// The migration's registration, for `#[migration]`.
fn migration(
    sig: &syn::Signature,
    args: &Args,
    parsed: &Signature,
) -> syn::Result<Option<TokenStream>> {
    let Some((table, from)) = &args.migration else {
        return Ok(None);
    };
    if !parsed.params.is_empty() {
        return Err(syn::Error::new(
            sig.inputs.span(),
            "a migration takes only its context: `(ctx: &mut ReducerContext)`; it reads the old rows with `ctx.old::<OldRow>()`",
        ));
    }
    if !parsed.ctx_mut {
        return Err(syn::Error::new(
            sig.inputs.span(),
            "a migration writes: it takes `ctx: &mut ReducerContext`",
        ));
    }
    let sdk = quote!(::interstice_sdk);
    let name_str = sig.ident.to_string();
    Ok(Some(quote! {
        #sdk::__private::inventory::submit! {
            #sdk::registry::MigrationDef {
                reducer: #name_str,
                table: #table,
                from: #from,
            }
        }
    }))
}

fn parse_signature(sig: &syn::Signature, args: &Args) -> syn::Result<Signature> {
    if let Some(a) = &sig.asyncness {
        return Err(syn::Error::new(
            a.span(),
            "a reducer cannot be async: it runs to completion inside one transaction",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a reducer cannot be generic: its parameters have schema types",
        ));
    }
    let mut inputs = sig.inputs.iter();
    let ctx_mut = context_is_mut(sig, inputs.next(), args)?;
    let mut params = Vec::new();
    for input in inputs {
        let FnArg::Typed(t) = input else {
            unreachable!("only the first input can be a receiver")
        };
        let Pat::Ident(p) = &*t.pat else {
            return Err(syn::Error::new(
                t.pat.span(),
                "reducer parameters are plain names (`name: Type`): the names go into the schema",
            ));
        };
        params.push((p.ident.clone(), (*t.ty).clone()));
    }
    Ok(Signature { ctx_mut, params })
}

/// Whether the first input, the context, is taken by `&mut`.
fn context_is_mut(sig: &syn::Signature, first: Option<&FnArg>, args: &Args) -> syn::Result<bool> {
    let context_hint = if args.read_only {
        "ctx: &ReadOnlyContext"
    } else {
        "ctx: &mut ReducerContext"
    };
    match first {
        Some(FnArg::Typed(t)) => match &*t.ty {
            Type::Reference(r) => Ok(r.mutability.is_some()),
            other => Err(syn::Error::new(
                other.span(),
                format!("the context is taken by reference: `{context_hint}`"),
            )),
        },
        Some(FnArg::Receiver(r)) => Err(syn::Error::new(
            r.span(),
            "a reducer is a free function, not a method",
        )),
        None => Err(syn::Error::new(
            sig.paren_token.span.join(),
            format!("a reducer takes its context first: `{context_hint}`"),
        )),
    }
}

/// The subscription's registration, for `on = "..."`.
fn subscription(
    sig: &syn::Signature,
    args: &Args,
    parsed: &Signature,
) -> syn::Result<Option<TokenStream>> {
    let Some(on) = &args.on else {
        return Ok(None);
    };
    if parsed.params.len() != 1 {
        return Err(syn::Error::new(
            sig.inputs.span(),
            "a subscription reducer takes the context and the row: `(ctx: &mut ReducerContext, row: MyRow)`",
        ));
    }
    let (module, table, event) = parse_on(on)?;
    let sdk = quote!(::interstice_sdk);
    let name_str = sig.ident.to_string();
    Ok(Some(quote! {
        #sdk::__private::inventory::submit! {
            #sdk::registry::SubscriptionDef {
                reducer: #name_str,
                module: #module,
                table: #table,
                event: #event,
            }
        }
    }))
}

/// The export the runtime calls: decodes the arguments, builds the
/// context, runs the function, packs its result.
fn export(sig: &syn::Signature, args: &Args, parsed: &Signature) -> TokenStream {
    let sdk = quote!(::interstice_sdk);
    let name = &sig.ident;
    let name_str = name.to_string();
    let export_name = interstice_abi::wasm::reducer_export(&name_str);
    let export_fn = format_ident!("__interstice_reducer_{}", name);
    let param_names: Vec<_> = parsed.params.iter().map(|(n, _)| n).collect();
    let param_strs: Vec<_> = parsed.params.iter().map(|(n, _)| n.to_string()).collect();
    let param_tys: Vec<_> = parsed.params.iter().map(|(_, t)| t).collect();
    let mode = if args.read_only {
        quote!(#sdk::ReadOnly)
    } else {
        quote!(#sdk::ReadWrite)
    };
    let ctx_arg = if parsed.ctx_mut {
        quote!(&mut ctx)
    } else {
        quote!(&ctx)
    };
    // Spanned at the return type, so a wrong one is reported there.
    let output_span = match &sig.output {
        syn::ReturnType::Default => sig.ident.span(),
        syn::ReturnType::Type(_, ty) => ty.span(),
    };
    let result = quote_spanned! {output_span=>
        #sdk::__private::ReducerResult::into_result(#name(#ctx_arg, #(#param_names),*))
    };
    quote! {
        #[doc(hidden)]
        #[unsafe(export_name = #export_name)]
        pub extern "C" fn #export_fn(ptr: i32, len: i32) -> i64 {
            #sdk::__private::run_reducer(ptr, len, |args| {
                let mut input = args;
                #(
                    let #param_names: #param_tys =
                        #sdk::__private::arg(&mut input, #name_str, #param_strs)?;
                )*
                #sdk::__private::done(input, #name_str)?;
                #[allow(unused_mut)]
                let mut ctx = #sdk::Context::<#mode>::new(::core::env!("CARGO_CRATE_NAME"));
                #result
            })
        }
    }
}

/// The marker struct named like the function (with its `NAME` and schema)
/// and the reducer's registration.
fn marker(item: &ItemFn, args: &Args, parsed: &Signature) -> TokenStream {
    let sdk = quote!(::interstice_sdk);
    let name = &item.sig.ident;
    let name_str = name.to_string();
    let param_strs: Vec<_> = parsed.params.iter().map(|(n, _)| n.to_string()).collect();
    let param_tys: Vec<_> = parsed.params.iter().map(|(_, t)| t).collect();
    let visibility = if args.public {
        quote!(#sdk::abi::Visibility::Public)
    } else {
        quote!(#sdk::abi::Visibility::Private)
    };
    let read_only = args.read_only;
    let vis = &item.vis;
    let doc = format!("The name of reducer `{name_str}`.");
    quote! {
        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #vis struct #name {
            _private: (),
        }

        impl #name {
            /// The reducer's name in the schema.
            pub const NAME: &'static str = #name_str;

            fn __interstice_schema() -> #sdk::abi::ReducerSchema {
                #sdk::abi::ReducerSchema {
                    name: #name_str.into(),
                    params: vec![#(
                        #sdk::abi::ParamSchema {
                            name: #param_strs.into(),
                            ty: <#param_tys as #sdk::IntersticeType>::ty(),
                        }
                    ),*],
                    visibility: #visibility,
                    read_only: #read_only,
                }
            }
        }

        #sdk::__private::inventory::submit! {
            #sdk::registry::ReducerDef {
                crate_name: ::core::env!("CARGO_CRATE_NAME"),
                version: ::core::env!("CARGO_PKG_VERSION"),
                schema: #name::__interstice_schema,
            }
        }
    }
}
