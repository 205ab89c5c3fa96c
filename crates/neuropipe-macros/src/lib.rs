//! # neuropipe-macros
//!
//! `#[derive(StageParams)]`: a stage's parameters declared once, as one struct.
//!
//! Each named field is one JSON parameter. Its `///` doc comment is the parameter's
//! documentation (required), its Rust type decides the JSON type (see
//! `neuropipe_core::ParamValue`), and `#[param(...)]` gives the rest:
//!
//! | key | meaning |
//! |---|---|
//! | `default = EXPR` | value when absent (any expression `serde_json::json!` accepts) |
//! | `min = NUM`, `max = NUM` | valid range of a number (or of each element of a list) |
//! | `choices = ["a", "b"]` | valid values of a string |
//! | `live` | may be changed while the pipeline runs |
//! | `name = "json_name"` | JSON name, when it differs from the field's |
//!
//! An `Option<T>` field is optional: absent means `None`. Any other field without a default
//! is required.
//!
//! The derive implements `neuropipe_core::StageParams` (the specs shown by `neuropipe stages`
//! and the schema, and the typed parse) and generates `<Struct>Update`, an enum with one
//! variant per `live` field (named in CamelCase) that carries the new value, typed. A typo in
//! a parameter name is therefore a compile error everywhere the stage uses it.
//!
//! See `neuropipe_core::StageParams` for an example.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{parse_macro_input, Attribute, Data, DeriveInput, Expr, ExprArray, Fields, Ident, Token};

/// Derives `neuropipe_core::StageParams` for a struct of named fields; see the crate docs.
#[proc_macro_derive(StageParams, attributes(param))]
pub fn derive_stage_params(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// What `#[param(...)]` and the doc comment say about one field.
struct FieldSpec {
    ident: Ident,
    ty: syn::Type,
    json_name: String,
    doc: String,
    default: Option<Expr>,
    min: Option<Expr>,
    max: Option<Expr>,
    choices: Option<ExprArray>,
    live: bool,
}

/// One `key = value` or bare `key` inside `#[param(...)]`.
enum Item {
    Flag(Ident),
    Value(Ident, Expr),
}

impl Parse for Item {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Ok(Item::Value(key, input.parse()?))
        } else {
            Ok(Item::Flag(key))
        }
    }
}

fn doc_of(attrs: &[Attribute]) -> String {
    let mut lines = vec![];
    for a in attrs {
        if !a.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &a.meta {
            if let Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
            {
                lines.push(s.value().trim().to_string());
            }
        }
    }
    lines.join(" ").trim().to_string()
}

fn field_spec(f: &syn::Field) -> syn::Result<FieldSpec> {
    let ident = f
        .ident
        .clone()
        .ok_or_else(|| syn::Error::new_spanned(f, "StageParams needs named fields"))?;
    let doc = doc_of(&f.attrs);
    if doc.is_empty() {
        return Err(syn::Error::new_spanned(
            &ident,
            "document the parameter with a `///` comment: it is shown by `neuropipe stages` and in the schema",
        ));
    }
    let mut spec = FieldSpec {
        json_name: ident.to_string(),
        ident,
        ty: f.ty.clone(),
        doc,
        default: None,
        min: None,
        max: None,
        choices: None,
        live: false,
    };
    for a in f.attrs.iter().filter(|a| a.path().is_ident("param")) {
        let items = a.parse_args_with(Punctuated::<Item, Token![,]>::parse_terminated)?;
        for item in items {
            match item {
                Item::Flag(k) if k == "live" => spec.live = true,
                Item::Value(k, v) if k == "default" => spec.default = Some(v),
                Item::Value(k, v) if k == "min" => spec.min = Some(v),
                Item::Value(k, v) if k == "max" => spec.max = Some(v),
                Item::Value(k, Expr::Array(a)) if k == "choices" => spec.choices = Some(a),
                Item::Value(k, Expr::Lit(l)) if k == "name" => match l.lit {
                    syn::Lit::Str(s) => spec.json_name = s.value(),
                    other => return Err(syn::Error::new_spanned(other, "`name` takes a string")),
                },
                Item::Flag(k) | Item::Value(k, _) => {
                    return Err(syn::Error::new_spanned(
                        &k,
                        format!(
                            "unknown or malformed `{k}`: #[param(...)] takes `default = EXPR`, `min = NUM`, `max = NUM`, `choices = [\"a\", ...]`, `live`, `name = \"json_name\"`"
                        ),
                    ))
                }
            }
        }
    }
    Ok(spec)
}

fn camel(name: &str) -> String {
    name.split('_')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

fn opt_f64(e: &Option<Expr>) -> TokenStream2 {
    match e {
        Some(e) => quote!(::core::option::Option::Some((#e) as f64)),
        None => quote!(::core::option::Option::None),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            input,
            "StageParams derives on structs",
        ));
    };
    let fields: Vec<FieldSpec> = match &data.fields {
        Fields::Named(n) => n.named.iter().map(field_spec).collect::<syn::Result<_>>()?,
        Fields::Unit => vec![],
        Fields::Unnamed(_) => {
            return Err(syn::Error::new_spanned(
                input,
                "StageParams needs named fields (one per parameter)",
            ))
        }
    };
    let name = &input.ident;
    let vis = &input.vis;
    let update = format_ident!("{}Update", name);
    let core = quote!(::neuropipe_core);

    let specs = fields.iter().map(|f| {
        let FieldSpec {
            ty, json_name, doc, ..
        } = f;
        let min = opt_f64(&f.min);
        let max = opt_f64(&f.max);
        let choices = match &f.choices {
            Some(a) => quote!(&#a),
            None => quote!(&[]),
        };
        let default = match &f.default {
            Some(d) => quote!(.default(#core::__private::serde_json::json!(#d))),
            None => quote!(),
        };
        let live = if f.live { quote!(.live()) } else { quote!() };
        quote! {
            #core::ParamSpec::typed::<#ty>(#json_name, #min, #max, #choices)
                #default #live .doc(#doc)
        }
    });
    let parse = fields.iter().map(|f| {
        let FieldSpec {
            ident,
            ty,
            json_name,
            ..
        } = f;
        quote!(#ident: params.typed::<#ty>(#json_name)?)
    });
    let live: Vec<&FieldSpec> = fields.iter().filter(|f| f.live).collect();
    let variants = live.iter().map(|f| {
        let v = Ident::new(&camel(&f.ident.to_string()), Span::call_site());
        let ty = &f.ty;
        let doc = format!("New value of `{}`: {}", f.json_name, f.doc);
        quote!(#[doc = #doc] #v(#ty))
    });
    let decode = live.iter().map(|f| {
        let v = Ident::new(&camel(&f.ident.to_string()), Span::call_site());
        let (ty, json_name) = (&f.ty, &f.json_name);
        quote! {
            #json_name => <#ty as #core::ParamValue>::from_json(value)
                .map(|x| ::core::option::Option::Some(#update::#v(x)))
                .ok_or_else(|| #core::StageError::bad_param(::std::format!(
                    "`{}` must be {}, got {}",
                    #json_name,
                    <#ty as #core::ParamValue>::expected(),
                    #core::__private::describe(value)
                ))),
        }
    });
    let names = live.iter().map(|f| {
        let v = Ident::new(&camel(&f.ident.to_string()), Span::call_site());
        let json_name = &f.json_name;
        quote!(#update::#v(_) => #json_name,)
    });
    let values = live.iter().map(|f| {
        let v = Ident::new(&camel(&f.ident.to_string()), Span::call_site());
        let ty = &f.ty;
        quote!(#update::#v(ref x) => <#ty as #core::ParamValue>::to_json(x),)
    });
    let applies = live.iter().map(|f| {
        let v = Ident::new(&camel(&f.ident.to_string()), Span::call_site());
        let ident = &f.ident;
        quote!(#update::#v(ref x) => self.#ident = ::core::clone::Clone::clone(x),)
    });
    let update_doc = format!(
        "A live change of [`{name}`]: one variant per `live` parameter, carrying its new value."
    );
    Ok(quote! {
        #[doc = #update_doc]
        #[derive(Clone, Debug, PartialEq)]
        #vis enum #update {
            #(#variants,)*
        }

        impl #update {
            /// The parameter's JSON name.
            #[allow(unreachable_code, unused_variables)]
            pub fn name(&self) -> &'static str {
                match *self { #(#names)* }
            }
            /// The new value as JSON (for the control reply).
            #[allow(unreachable_code, unused_variables)]
            pub fn value(&self) -> #core::__private::serde_json::Value {
                match *self { #(#values)* }
            }
        }

        impl #core::StageParams for #name {
            type Update = #update;

            fn specs() -> ::std::vec::Vec<#core::ParamSpec> {
                ::std::vec![#(#specs),*]
            }

            #[allow(unused_variables)]
            fn from_params(params: &#core::Params) -> ::core::result::Result<Self, #core::BuildError> {
                ::core::result::Result::Ok(Self { #(#parse),* })
            }

            #[allow(unused_variables)]
            fn decode(
                key: &str,
                value: &#core::__private::serde_json::Value,
            ) -> ::core::result::Result<::core::option::Option<#update>, #core::StageError> {
                match key {
                    #(#decode)*
                    _ => ::core::result::Result::Ok(::core::option::Option::None),
                }
            }

            #[allow(unused_variables, unreachable_code)]
            fn apply(&mut self, update: &#update) {
                match *update { #(#applies)* }
            }

            fn update_name(update: &#update) -> &'static str {
                update.name()
            }

            fn update_value(update: &#update) -> #core::__private::serde_json::Value {
                update.value()
            }
        }
    })
}
