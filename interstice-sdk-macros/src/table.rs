//! `#[table]`: a row struct becomes a table. It generates the schema, the
//! `Table` impl, a handle with one accessor per secondary index, and the
//! `ctx.db().<table>()` accessor trait, and registers the table.

use heck::ToSnakeCase;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Fields, Ident, ItemStruct, LitStr};

/// `#[table(...)]` arguments.
#[derive(Default)]
struct Args {
    name: Option<LitStr>,
    public: bool,
    composite: Vec<(Ident, Vec<Ident>, bool)>,
}

fn parse_args(attr: TokenStream) -> syn::Result<Args> {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            args.name = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("public") {
            args.public = true;
        } else if meta.path.is_ident("private") {
            args.public = false;
        } else if meta.path.is_ident("index") || meta.path.is_ident("unique") {
            let unique = meta.path.is_ident("unique");
            let mut name = None;
            let mut columns = Vec::new();
            meta.parse_nested_meta(|m| {
                if m.path.is_ident("name") {
                    let s: LitStr = m.value()?.parse()?;
                    name = Some(Ident::new(&s.value(), s.span()));
                } else if m.path.is_ident("columns") {
                    m.parse_nested_meta(|c| {
                        columns.push(c.path.require_ident()?.clone());
                        Ok(())
                    })?;
                } else {
                    return Err(m.error("expected `name = \"...\"` or `columns(a, b, ...)`"));
                }
                Ok(())
            })?;
            let Some(name) = name else {
                return Err(meta.error("a composite index needs `name = \"by_...\"`"));
            };
            if columns.len() < 2 {
                return Err(meta.error(
                    "a composite index lists two or more `columns(...)`; mark a single column with #[index] or #[unique]",
                ));
            }
            args.composite.push((name, columns, unique));
        } else {
            return Err(meta.error(
                "unknown table option: expected `name = \"...\"`, `public`, `private`, `index(name = \"...\", columns(...))` or `unique(...)`",
            ));
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(args)
}

/// What the field attributes say.
#[derive(Default)]
struct Column {
    primary_key: bool,
    auto_inc: Option<Span>,
    unique: bool,
    index: bool,
}

pub fn expand(attr: TokenStream, mut item: ItemStruct) -> syn::Result<TokenStream> {
    let args = parse_args(attr)?;
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            "a table cannot be generic: its schema names concrete column types",
        ));
    }
    let Fields::Named(named) = &mut item.fields else {
        return Err(syn::Error::new(
            item.fields.span(),
            "a table is a struct with named fields (its columns)",
        ));
    };
    let mut columns = Vec::new();
    for field in named.named.iter_mut() {
        let mut col = Column::default();
        let mut err: Option<syn::Error> = None;
        field.attrs.retain(|a| {
            let p = a.path();
            let known = if p.is_ident("primary_key") {
                col.primary_key = true;
                true
            } else if p.is_ident("auto_inc") {
                col.auto_inc = Some(a.span());
                true
            } else if p.is_ident("unique") {
                col.unique = true;
                true
            } else if p.is_ident("index") {
                col.index = true;
                true
            } else {
                false
            };
            if known && !matches!(a.meta, syn::Meta::Path(_)) {
                err.get_or_insert(syn::Error::new(
                    a.span(),
                    "this attribute takes no arguments",
                ));
            }
            !known
        });
        if let Some(e) = err {
            return Err(e);
        }
        if let Some(span) = col.auto_inc
            && !col.primary_key
        {
            return Err(syn::Error::new(
                span,
                "#[auto_inc] goes on the #[primary_key] field",
            ));
        }
        if col.unique && col.index {
            return Err(syn::Error::new(
                field.span(),
                "a column is #[unique] or #[index], not both (a unique index is also an index)",
            ));
        }
        columns.push((field.ident.clone().expect("named"), field.ty.clone(), col));
    }
    let pks: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].2.primary_key)
        .collect();
    let pk = match pks[..] {
        [pk] => pk,
        [] => {
            return Err(syn::Error::new(
                item.ident.span(),
                "a table needs one #[primary_key] field",
            ));
        }
        [_, second, ..] => {
            return Err(syn::Error::new(
                columns[second].0.span(),
                "a table has one #[primary_key]; for a key over several columns add a #[table(unique(name = \"...\", columns(...)))] index",
            ));
        }
    };

    let sdk = quote!(::interstice_sdk);
    let ident = &item.ident;
    let vis = &item.vis;
    let table_name = args
        .name
        .as_ref()
        .map_or_else(|| ident.to_string().to_snake_case(), LitStr::value);
    let accessor = Ident::new(
        &table_name,
        args.name.as_ref().map_or(ident.span(), LitStr::span),
    );
    let handle = format_ident!("{}Handle", ident);
    let access = format_ident!("{}Access", ident);
    let (pk_ident, pk_ty, pk_col) = &columns[pk];
    let auto_inc = pk_col.auto_inc.is_some();
    let pk_index = pk as u16;

    let column_schemas = columns.iter().map(|(name, ty, _)| {
        let name = name.to_string();
        quote!(#sdk::abi::ColumnSchema { name: #name.into(), ty: <#ty as #sdk::IntersticeType>::ty() })
    });

    // Secondary indexes: single columns, then composites, in order.
    let mut indexes = Vec::new();
    for (i, (name, ty, col)) in columns.iter().enumerate() {
        if col.unique || col.index {
            let ix_name = format_ident!("by_{}", name);
            indexes.push((ix_name, vec![i as u16], quote!(#ty), col.unique));
        }
    }
    for (name, cols, unique) in &args.composite {
        let mut positions = Vec::new();
        let mut tys = Vec::new();
        for c in cols {
            let Some(i) = columns.iter().position(|(n, _, _)| n == c) else {
                return Err(syn::Error::new(
                    c.span(),
                    format!("no column `{c}` in this table"),
                ));
            };
            positions.push(i as u16);
            let ty = &columns[i].1;
            tys.push(quote!(#ty));
        }
        indexes.push((name.clone(), positions, quote!((#(#tys,)*)), *unique));
    }
    let index_schemas = indexes.iter().map(|(name, cols, _, unique)| {
        let name = name.to_string();
        quote!(#sdk::abi::IndexSchema { name: #name.into(), columns: vec![#(#cols),*], unique: #unique })
    });
    let index_methods = indexes.iter().map(|(name, _, key, unique)| {
        let name_str = name.to_string();
        let kind = if *unique {
            quote!(UniqueIndex)
        } else {
            quote!(Index)
        };
        let doc = format!("The `{name_str}` index of `{table_name}`.");
        quote! {
            #[doc = #doc]
            pub fn #name(&self) -> #sdk::#kind<#ident, #key, M> {
                static CACHE: #sdk::__private::HandleCache = #sdk::__private::HandleCache::new();
                #sdk::#kind::new(#name_str, &CACHE)
            }
        }
    });
    let visibility = if args.public {
        quote!(#sdk::abi::Visibility::Public)
    } else {
        quote!(#sdk::abi::Visibility::Private)
    };
    let set_key = auto_inc.then(|| {
        quote! {
            fn set_assigned_key(&mut self, key: i64) {
                self.#pk_ident = key as #pk_ty;
            }
        }
    });
    let handle_doc = format!("Table `{table_name}`: rows of [`{ident}`], and its indexes.");
    let access_doc = format!("Adds `.{table_name}()` to `ctx.db()`.");

    Ok(quote! {
        #[derive(#sdk::IntersticeType)]
        #item

        impl #sdk::Table for #ident {
            const NAME: &'static str = #table_name;
            type PrimaryKey = #pk_ty;

            fn schema() -> #sdk::abi::TableSchema {
                #sdk::abi::TableSchema {
                    name: #table_name.into(),
                    columns: vec![#(#column_schemas),*],
                    primary_key: #pk_index,
                    auto_inc: #auto_inc,
                    indexes: vec![#(#index_schemas),*],
                    visibility: #visibility,
                }
            }

            fn primary_key(&self) -> &#pk_ty {
                &self.#pk_ident
            }

            #set_key

            fn handle_cache() -> &'static #sdk::__private::HandleCache {
                static CACHE: #sdk::__private::HandleCache = #sdk::__private::HandleCache::new();
                &CACHE
            }
        }

        #[doc = #handle_doc]
        #vis struct #handle<M>(#sdk::TableHandle<#ident, M>);

        impl<M> ::core::ops::Deref for #handle<M> {
            type Target = #sdk::TableHandle<#ident, M>;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl<M> #handle<M> {
            #(#index_methods)*
        }

        #[doc = #access_doc]
        #vis trait #access<M> {
            #[doc = #handle_doc]
            fn #accessor(&self) -> #handle<M>;
        }

        impl<M> #access<M> for #sdk::Db<M> {
            fn #accessor(&self) -> #handle<M> {
                #handle(#sdk::TableHandle::new())
            }
        }

        #sdk::__private::inventory::submit! {
            #sdk::registry::TableDef {
                crate_name: ::core::env!("CARGO_CRATE_NAME"),
                version: ::core::env!("CARGO_PKG_VERSION"),
                schema: <#ident as #sdk::Table>::schema,
            }
        }
    })
}
