//! `#[derive(IntersticeType)]`: a struct or enum's schema type and its
//! encoding (fields in order; an enum's variant index, then its payload).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

/// The parts of an `IntersticeType` impl: the schema type, the body of
/// `encode`, the body of `decode`.
struct Impl {
    ty: TokenStream,
    encode: TokenStream,
    decode: TokenStream,
}

pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "IntersticeType cannot be derived for a generic type: a schema names concrete types, so use concrete field types",
        ));
    }
    let name = &input.ident;
    let Impl { ty, encode, decode } = match &input.data {
        Data::Struct(s) => for_struct(name, &s.fields),
        Data::Enum(e) => for_enum(name, e)?,
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "IntersticeType cannot be derived for a union: use an enum",
            ));
        }
    };
    let sdk = quote!(::interstice_sdk);
    Ok(quote! {
        impl #sdk::IntersticeType for #name {
            fn ty() -> #sdk::abi::Type {
                #ty
            }
            #[allow(unused_variables)]
            fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                #encode
            }
            #[allow(unused_variables)]
            fn decode(input: &mut &[u8]) -> ::core::result::Result<Self, #sdk::DecodeError> {
                #decode
            }
        }
    })
}

/// A struct: its fields in order.
fn for_struct(name: &syn::Ident, fields: &Fields) -> Impl {
    let sdk = quote!(::interstice_sdk);
    let (binds, pattern) = destructure(fields);
    let decode = construct(quote!(#name), fields);
    Impl {
        ty: struct_type(&name.to_string(), fields),
        encode: quote! {
            let #name #pattern = self;
            #( #sdk::IntersticeType::encode(#binds, out); )*
        },
        decode: quote!(Ok(#decode)),
    }
}

/// An enum: the variant's index, then its payload.
fn for_enum(name: &syn::Ident, e: &syn::DataEnum) -> syn::Result<Impl> {
    let sdk = quote!(::interstice_sdk);
    let name_str = name.to_string();
    let mut variants = Vec::new();
    let mut encode_arms = Vec::new();
    let mut decode_arms = Vec::new();
    for (i, v) in e.variants.iter().enumerate() {
        if let Some((_, d)) = &v.discriminant {
            return Err(syn::Error::new(
                d.span(),
                "explicit discriminants are not supported: a variant's index in the encoding is its position",
            ));
        }
        let vname = &v.ident;
        let vstr = vname.to_string();
        let payload = match &v.fields {
            Fields::Unit => quote!(#sdk::abi::Type::Unit),
            Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                let t = &f.unnamed[0].ty;
                quote!(<#t as #sdk::IntersticeType>::ty())
            }
            fields => struct_type(&vstr, fields),
        };
        variants.push(quote! {
            #sdk::abi::Variant { name: #vstr.into(), ty: #payload }
        });
        let index = i as u32;
        let (binds, pattern) = destructure(&v.fields);
        encode_arms.push(quote! {
            Self::#vname #pattern => {
                #sdk::codec::write_varint(out, #index as u128);
                #( #sdk::IntersticeType::encode(#binds, out); )*
            }
        });
        let value = construct(quote!(Self::#vname), &v.fields);
        decode_arms.push(quote!(#index => Ok(#value),));
    }
    Ok(Impl {
        ty: quote! {
            #sdk::abi::Type::Enum(#sdk::abi::EnumType {
                name: #name_str.into(),
                variants: vec![#(#variants),*],
            })
        },
        encode: quote! {
            match self { #(#encode_arms)* }
        },
        decode: quote! {
            let index = #sdk::codec::read_varint(input, 32)? as u32;
            match index {
                #(#decode_arms)*
                i => Err(#sdk::DecodeError(format!("no variant {} in enum {}", i, #name_str))),
            }
        },
    })
}

/// A `Type::Struct` for these fields (tuple fields are named `0`, `1`, ...).
fn struct_type(name: &str, fields: &Fields) -> TokenStream {
    let sdk = quote!(::interstice_sdk);
    let fields = fields.iter().enumerate().map(|(i, f)| {
        let fname = f
            .ident
            .as_ref()
            .map_or_else(|| i.to_string(), |id| id.to_string());
        let t = &f.ty;
        // Spanned at the field's type: an unsupported type is reported there.
        let ty = quote_spanned!(t.span()=> <#t as #sdk::IntersticeType>::ty());
        quote! {
            #sdk::abi::Field { name: #fname.into(), ty: #ty }
        }
    });
    quote! {
        #sdk::abi::Type::Struct(#sdk::abi::StructType {
            name: #name.into(),
            fields: vec![#(#fields),*],
        })
    }
}

/// Bindings for each field and the pattern that binds them.
fn destructure(fields: &Fields) -> (Vec<syn::Ident>, TokenStream) {
    let binds: Vec<_> = (0..fields.len()).map(|i| format_ident!("f{i}")).collect();
    let pattern = match fields {
        Fields::Unit => quote!(),
        Fields::Named(n) => {
            let names = n.named.iter().map(|f| f.ident.as_ref().expect("named"));
            quote!({ #(#names: #binds),* })
        }
        Fields::Unnamed(_) => quote!(( #(#binds),* )),
    };
    (binds, pattern)
}

/// An expression building `path` from fields decoded in order.
fn construct(path: TokenStream, fields: &Fields) -> TokenStream {
    let sdk = quote!(::interstice_sdk);
    match fields {
        Fields::Unit => path,
        Fields::Named(n) => {
            let inits = n.named.iter().map(|f| {
                let id = f.ident.as_ref().expect("named");
                quote!(#id: #sdk::IntersticeType::decode(input)?)
            });
            quote!(#path { #(#inits),* })
        }
        Fields::Unnamed(u) => {
            let inits = (0..u.unnamed.len()).map(|_| quote!(#sdk::IntersticeType::decode(input)?));
            quote!(#path ( #(#inits),* ))
        }
    }
}
