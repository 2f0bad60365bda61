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
    /// `version = N` (1 when absent).
    version: Option<syn::LitInt>,
    /// `renamed_from = "old"`.
    renamed_from: Option<LitStr>,
    /// `#[table_version(table, N)]`: the rows of `table` at version `N`,
    /// for a migration to read.
    old: Option<(String, syn::LitInt)>,
    /// `scheduled(reducer = "...")`: the reducer each row asks for.
    scheduled: Option<LitStr>,
}

fn parse_args(attr: TokenStream) -> syn::Result<Args> {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            args.name = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("version") {
            let v: syn::LitInt = meta.value()?.parse()?;
            if v.base10_parse::<u32>().map_or(true, |v| v == 0) {
                return Err(syn::Error::new(
                    v.span(),
                    "a table version is a whole number from 1",
                ));
            }
            args.version = Some(v);
        } else if meta.path.is_ident("renamed_from") {
            args.renamed_from = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("scheduled") {
            meta.parse_nested_meta(|m| {
                if m.path.is_ident("reducer") {
                    args.scheduled = Some(m.value()?.parse()?);
                    Ok(())
                } else {
                    Err(m.error("expected `scheduled(reducer = \"name\")`"))
                }
            })?;
            if args.scheduled.is_none() {
                return Err(meta.error("expected `scheduled(reducer = \"name\")`"));
            }
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
                "unknown table option: expected `name = \"...\"`, `public`, `private`, `version = N`, `renamed_from = \"...\"`, `scheduled(reducer = \"...\")`, `index(name = \"...\", columns(...))` or `unique(...)`",
            ));
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(args)
}

/// `#[table_version(accounts, 2)]`: the table's name and the version.
fn parse_old_args(attr: TokenStream) -> syn::Result<Args> {
    let usage = "expected the table and its version: `#[table_version(accounts, 2)]`";
    let parser = |input: syn::parse::ParseStream| {
        let table: Ident = input.parse()?;
        input.parse::<syn::Token![,]>()?;
        let version: syn::LitInt = input.parse()?;
        if !input.is_empty() {
            return Err(input.error(usage));
        }
        Ok((table, version))
    };
    let (table, version) =
        syn::parse::Parser::parse2(parser, attr).map_err(|e| syn::Error::new(e.span(), usage))?;
    if version.base10_parse::<u32>().map_or(true, |v| v == 0) {
        return Err(syn::Error::new(
            version.span(),
            "a table version is a whole number from 1",
        ));
    }
    let name = format!("{table}@{}", version.base10_digits());
    Ok(Args {
        name: Some(LitStr::new(&name, table.span())),
        version: Some(version.clone()),
        old: Some((table.to_string(), version)),
        ..Args::default()
    })
}

/// Parses `#[table_version(...)]` and its struct, and generates the old
/// row type: its `Table` impl (named `table@version`, which the host gives
/// a migration while it runs) and its registration, no handle.
pub fn expand_old(attr: TokenStream, item: ItemStruct) -> syn::Result<TokenStream> {
    expand_with(parse_old_args(attr)?, item)
}

/// A field and what its attributes say.
struct Column {
    name: Ident,
    ty: syn::Type,
    primary_key: bool,
    auto_inc: Option<Span>,
    unique: bool,
    index: bool,
    /// `#[default(expr)]`: the value rows written before the column existed
    /// take.
    default: Option<syn::Expr>,
    /// `#[renamed_from("old")]`.
    renamed_from: Option<LitStr>,
}

/// A secondary index: its name, column positions, key type, and whether
/// it is unique.
struct SecondaryIndex {
    name: Ident,
    columns: Vec<u16>,
    key: TokenStream,
    unique: bool,
}

/// Parses the attribute and the struct, checks them, and generates the
/// table.
pub fn expand(attr: TokenStream, item: ItemStruct) -> syn::Result<TokenStream> {
    expand_with(parse_args(attr)?, item)
}

fn expand_with(args: Args, mut item: ItemStruct) -> syn::Result<TokenStream> {
    let columns = parse_columns(&mut item)?;
    let pk = primary_key(&item, &columns)?;
    let schedule_at = schedule_column(&args, &item, &columns, pk)?;
    let indexes = secondary_indexes(&columns, &args.composite)?;
    let name = args
        .name
        .as_ref()
        .map_or_else(|| item.ident.to_string().to_snake_case(), LitStr::value);
    let table = Model {
        item: &item,
        args: &args,
        name,
        columns,
        pk,
        indexes,
        schedule_at,
    };
    Ok(table.generate())
}

/// A table, parsed and checked: what the code is generated from.
struct Model<'a> {
    /// The row struct, its column attributes removed.
    item: &'a ItemStruct,
    args: &'a Args,
    /// The table's name in the schema.
    name: String,
    columns: Vec<Column>,
    /// Position of the primary key column.
    pk: usize,
    indexes: Vec<SecondaryIndex>,
    /// For a scheduled table, the position of its `ScheduleAt` column.
    schedule_at: Option<u16>,
}

/// The struct's fields as columns, their attributes removed and checked.
fn parse_columns(item: &mut ItemStruct) -> syn::Result<Vec<Column>> {
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
    named.named.iter_mut().map(parse_column).collect()
}

/// One field: takes its column attributes off it.
fn parse_column(field: &mut syn::Field) -> syn::Result<Column> {
    let mut col = Column {
        name: field.ident.clone().expect("named"),
        ty: field.ty.clone(),
        primary_key: false,
        auto_inc: None,
        unique: false,
        index: false,
        default: None,
        renamed_from: None,
    };
    let mut err: Option<syn::Error> = None;
    field.attrs.retain(|a| {
        let p = a.path();
        // The two that take an argument.
        if p.is_ident("default") || p.is_ident("renamed_from") {
            let parsed = if p.is_ident("default") {
                a.parse_args::<syn::Expr>().map(|e| col.default = Some(e))
            } else {
                a.parse_args::<LitStr>()
                    .map(|s| col.renamed_from = Some(s))
                    .map_err(|e| {
                        syn::Error::new(e.span(), "expected the old name: #[renamed_from(\"old\")]")
                    })
            };
            if let Err(e) = parsed {
                err.get_or_insert(e);
            }
            return false;
        }
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
    Ok(col)
}

/// For `scheduled(...)`: the position of the one `ScheduleAt` column; the
/// key must be `#[auto_inc]`.
fn schedule_column(
    args: &Args,
    item: &ItemStruct,
    columns: &[Column],
    pk: usize,
) -> syn::Result<Option<u16>> {
    let Some(reducer) = &args.scheduled else {
        return Ok(None);
    };
    let is_schedule_at = |ty: &syn::Type| match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "ScheduleAt"),
        _ => false,
    };
    let at: Vec<usize> = (0..columns.len())
        .filter(|&i| is_schedule_at(&columns[i].ty))
        .collect();
    let [at] = at[..] else {
        return Err(syn::Error::new(
            reducer.span(),
            "a scheduled table has one `ScheduleAt` column (when each row's call is due)",
        ));
    };
    if columns[pk].auto_inc.is_none() {
        return Err(syn::Error::new(
            item.ident.span(),
            "a scheduled table's #[primary_key] is #[auto_inc]",
        ));
    }
    Ok(Some(at as u16))
}

/// The position of the one `#[primary_key]` column.
fn primary_key(item: &ItemStruct, columns: &[Column]) -> syn::Result<usize> {
    let pks: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].primary_key)
        .collect();
    match pks[..] {
        [pk] => Ok(pk),
        [] => Err(syn::Error::new(
            item.ident.span(),
            "a table needs one #[primary_key] field",
        )),
        [_, second, ..] => Err(syn::Error::new(
            columns[second].name.span(),
            "a table has one #[primary_key]; for a key over several columns add a #[table(unique(name = \"...\", columns(...)))] index",
        )),
    }
}

/// Secondary indexes: single columns, then composites, in order.
fn secondary_indexes(
    columns: &[Column],
    composite: &[(Ident, Vec<Ident>, bool)],
) -> syn::Result<Vec<SecondaryIndex>> {
    let mut indexes = Vec::new();
    for (i, col) in columns.iter().enumerate() {
        if col.unique || col.index {
            let ty = &col.ty;
            indexes.push(SecondaryIndex {
                name: format_ident!("by_{}", col.name),
                columns: vec![i as u16],
                key: quote!(#ty),
                unique: col.unique,
            });
        }
    }
    for (name, cols, unique) in composite {
        let mut positions = Vec::new();
        let mut tys = Vec::new();
        for c in cols {
            let Some(i) = columns.iter().position(|col| &col.name == c) else {
                return Err(syn::Error::new(
                    c.span(),
                    format!("no column `{c}` in this table"),
                ));
            };
            positions.push(i as u16);
            let ty = &columns[i].ty;
            tys.push(quote!(#ty));
        }
        indexes.push(SecondaryIndex {
            name: name.clone(),
            columns: positions,
            key: quote!((#(#tys,)*)),
            unique: *unique,
        });
    }
    Ok(indexes)
}

impl Model<'_> {
    /// The table's code: the row struct, its `Table` impl, the handle with its
    /// index accessors, the `ctx.db()` accessor, and the registration.
    fn generate(&self) -> TokenStream {
        if let Some((table, version)) = &self.args.old {
            return self.generate_old(table, version);
        }
        let sdk = quote!(::interstice_sdk);
        let (item, table_name) = (self.item, &self.name);
        let (ident, vis) = (&item.ident, &item.vis);
        let accessor = Ident::new(
            table_name,
            self.args.name.as_ref().map_or(ident.span(), LitStr::span),
        );
        let handle = format_ident!("{}Handle", ident);
        let access = format_ident!("{}Access", ident);
        let table_impl = self.table_impl();
        let index_methods = self.indexes.iter().map(|ix| self.index_method(ix));
        let handle_doc = format!("Table `{table_name}`: rows of [`{ident}`], and its indexes.");
        let access_doc = format!("Adds `.{table_name}()` to `ctx.db()`.");

        quote! {
            #[derive(#sdk::IntersticeType)]
            #item

            #table_impl

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
        }
    }

    /// An old row type: the struct, its `Table` impl, its registration.
    fn generate_old(&self, table: &str, version: &syn::LitInt) -> TokenStream {
        let sdk = quote!(::interstice_sdk);
        let (item, ident) = (self.item, &self.item.ident);
        let table_impl = self.table_impl();
        quote! {
            #[derive(#sdk::IntersticeType)]
            #item

            #table_impl

            #sdk::__private::inventory::submit! {
                #sdk::registry::OldTableDef {
                    table: #table,
                    version: #version,
                    schema: <#ident as #sdk::Table>::schema,
                }
            }
        }
    }

    /// `impl Table for Row`: the schema, the primary key, the handle cache.
    fn table_impl(&self) -> TokenStream {
        let sdk = quote!(::interstice_sdk);
        let (ident, table_name, pk) = (&self.item.ident, &self.name, self.pk);
        let (columns, indexes) = (&self.columns, &self.indexes);
        let (pk_ident, pk_ty) = (&columns[pk].name, &columns[pk].ty);
        let auto_inc = columns[pk].auto_inc.is_some();
        let pk_index = pk as u16;
        let column_schemas = columns.iter().map(|col| {
            let (name, ty) = (col.name.to_string(), &col.ty);
            let default = match &col.default {
                None => quote!(None),
                Some(expr) => {
                    // A string literal is a `&str`; a `String` column wants
                    // one of its own.
                    let value = match expr {
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(s),
                            ..
                        }) => {
                            quote!(::std::string::String::from(#s))
                        }
                        other => quote!(#other),
                    };
                    quote!(Some({
                        let value: #ty = #value;
                        let mut bytes = ::std::vec::Vec::new();
                        #sdk::IntersticeType::encode(&value, &mut bytes);
                        bytes
                    }))
                }
            };
            let renamed_from = match &col.renamed_from {
                None => quote!(None),
                Some(old) => quote!(Some(#old.into())),
            };
            quote!(#sdk::abi::ColumnSchema {
                name: #name.into(),
                ty: <#ty as #sdk::IntersticeType>::ty(),
                default: #default,
                renamed_from: #renamed_from,
            })
        });
        let index_schemas = indexes.iter().map(|ix| {
            let (name, cols, unique) = (ix.name.to_string(), &ix.columns, ix.unique);
            quote!(#sdk::abi::IndexSchema { name: #name.into(), columns: vec![#(#cols),*], unique: #unique })
        });
        let version = self
            .args
            .version
            .as_ref()
            .map_or_else(|| quote!(1), |v| quote!(#v));
        let renamed_from = match &self.args.renamed_from {
            None => quote!(None),
            Some(old) => quote!(Some(#old.into())),
        };
        let schedule = match (&self.args.scheduled, self.schedule_at) {
            (Some(reducer), Some(at)) => quote!(Some(#sdk::abi::ScheduleSchema {
                reducer: #reducer.into(),
                at: #at,
            })),
            _ => quote!(None),
        };
        let visibility = if self.args.public {
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
        quote! {
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
                        version: #version,
                        renamed_from: #renamed_from,
                        schedule: #schedule,
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
        }
    }

    /// The handle's accessor for one index.
    fn index_method(&self, ix: &SecondaryIndex) -> TokenStream {
        let sdk = quote!(::interstice_sdk);
        let (row, table_name) = (&self.item.ident, &self.name);
        let (name, key) = (&ix.name, &ix.key);
        let name_str = name.to_string();
        let kind = if ix.unique {
            quote!(UniqueIndex)
        } else {
            quote!(Index)
        };
        let doc = format!("The `{name_str}` index of `{table_name}`.");
        quote! {
            #[doc = #doc]
            pub fn #name(&self) -> #sdk::#kind<#row, #key, M> {
                static CACHE: #sdk::__private::HandleCache = #sdk::__private::HandleCache::new();
                #sdk::#kind::new(#name_str, &CACHE)
            }
        }
    }
}
