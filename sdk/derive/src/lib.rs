//! Derive macros that `topictable-sdk` re-exports: a plugin's config
//! description is read off its serde config struct, so what `topictable
//! plugins describe` shows and what the host validates cannot drift from what
//! the plugin parses.
//!
//! - `#[derive(ConfigKeys)]` on a struct with named fields: one key per field,
//!   named as serde names it (`rename`), typed by the field's `ConfigValue`,
//!   documented by its doc comment, defaulted by its serde `default` (a field
//!   that is neither defaulted nor an `Option` is required). `#[serde(flatten)]`
//!   fields add the keys of their own `ConfigKeys` type.
//! - `#[derive(ConfigValue)]` on an enum of unit variants: one of the variant
//!   names as serde spells them (`rename_all`, `rename`).

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::meta::ParseNestedMeta;
use syn::{
    Attribute, Data, DeriveInput, Expr, ExprLit, Fields, Lit, LitStr, Meta, Token, Type,
    parse_macro_input,
};

/// Describes a config struct's keys (`topictable_sdk::ConfigKeys`) from its
/// fields, their serde attributes and their doc comments.
#[proc_macro_derive(ConfigKeys)]
pub fn derive_config_keys(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    config_keys(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Describes a unit enum as a config value (`topictable_sdk::ConfigValue`):
/// one of its variant names, as serde spells them.
#[proc_macro_derive(ConfigValue)]
pub fn derive_config_value(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    config_value(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn config_keys(input: &DeriveInput) -> syn::Result<Tokens> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "ConfigKeys describes a struct with named fields",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "ConfigKeys describes a struct with named fields",
        ));
    };
    let container = serde_attrs(&input.attrs)?;
    let mut pushes = Vec::new();
    for field in &fields.named {
        let attrs = serde_attrs(&field.attrs)?;
        if attrs.skip {
            continue;
        }
        let ty = &field.ty;
        if attrs.flatten {
            pushes.push(quote! {
                keys.extend(<#ty as ::topictable_sdk::ConfigKeys>::config_keys());
            });
            continue;
        }
        let ident = field.ident.as_ref().expect("named field");
        let name = match &attrs.rename {
            Some(name) => name.clone(),
            None => {
                let plain = ident.to_string().trim_start_matches("r#").to_string();
                match &container.rename_all {
                    Some(rule) => rename_field(&plain, rule).ok_or_else(|| {
                        syn::Error::new_spanned(
                            &input.ident,
                            format!("unknown rename_all `{rule}`"),
                        )
                    })?,
                    None => plain,
                }
            }
        };
        let doc = doc_text(&field.attrs);
        if doc.is_empty() {
            return Err(syn::Error::new_spanned(
                ident,
                "a config key needs a doc comment: it is the line `plugins describe` shows",
            ));
        }
        let default = match (&attrs.default, &container.default) {
            (Some(Some(path)), _) => Some(quote! { &#path() }),
            // An `Option` defaults to `None`: unset, and no `Serialize` needed.
            (Some(None), _) if is_option(ty) => None,
            (Some(None), _) => Some(quote! { &<#ty as ::core::default::Default>::default() }),
            // A container default: the field of the whole struct's default.
            (None, Some(Some(path))) => Some(quote! { &#path().#ident }),
            (None, Some(None)) => {
                Some(quote! { &<Self as ::core::default::Default>::default().#ident })
            }
            (None, None) => None,
        };
        let required = default.is_none() && !is_option(ty);
        let default = match default {
            Some(value) => quote! { ::topictable_sdk::config::default_value(#value) },
            None => quote! { ::core::option::Option::None },
        };
        pushes.push(quote! {
            keys.push(::topictable_sdk::ConfigKey {
                name: #name.to_string(),
                kind: <#ty as ::topictable_sdk::ConfigValue>::config_type(),
                default: #default,
                required: #required,
                doc: #doc.to_string(),
            });
        });
    }
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::topictable_sdk::ConfigKeys for #ident #ty_generics #where_clause {
            fn config_keys() -> ::std::vec::Vec<::topictable_sdk::ConfigKey> {
                let mut keys = ::std::vec::Vec::new();
                #(#pushes)*
                keys
            }
        }
    })
}

fn config_value(input: &DeriveInput) -> syn::Result<Tokens> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "ConfigValue derives for an enum of unit variants; implement it by hand for other types",
        ));
    };
    let container = serde_attrs(&input.attrs)?;
    if container.untagged {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "an untagged enum is not one name out of a set: implement ConfigValue by hand",
        ));
    }
    let mut names = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(
                variant,
                "ConfigValue derives for unit variants only",
            ));
        }
        let attrs = serde_attrs(&variant.attrs)?;
        if attrs.skip || attrs.other {
            continue;
        }
        let name = match (&attrs.rename, &container.rename_all) {
            (Some(name), _) => name.clone(),
            (None, Some(rule)) => {
                rename_variant(&variant.ident.to_string(), rule).ok_or_else(|| {
                    syn::Error::new_spanned(&input.ident, format!("unknown rename_all `{rule}`"))
                })?
            }
            (None, None) => variant.ident.to_string(),
        };
        names.push(name);
    }
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::topictable_sdk::ConfigValue for #ident #ty_generics #where_clause {
            fn config_type() -> ::topictable_sdk::ConfigType {
                ::topictable_sdk::ConfigType::one_of([#(#names),*])
            }
        }
    })
}

/// The serde attributes that decide a key's name, default and presence.
#[derive(Default)]
struct SerdeAttrs {
    rename: Option<String>,
    rename_all: Option<String>,
    /// `Some(None)`: `#[serde(default)]`; `Some(Some(f))`: `#[serde(default = "f")]`.
    default: Option<Option<syn::Path>>,
    flatten: bool,
    skip: bool,
    other: bool,
    untagged: bool,
}

fn serde_attrs(attrs: &[Attribute]) -> syn::Result<SerdeAttrs> {
    let mut out = SerdeAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let name = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match name.as_str() {
                "rename" | "rename_all" => {
                    let value = deserialize_name(&meta)?;
                    if name == "rename" {
                        out.rename = value;
                    } else {
                        out.rename_all = value;
                    }
                }
                "default" => {
                    out.default = Some(if meta.input.peek(Token![=]) {
                        Some(meta.value()?.parse::<LitStr>()?.parse::<syn::Path>()?)
                    } else {
                        None
                    });
                }
                "flatten" => out.flatten = true,
                "skip" | "skip_deserializing" => out.skip = true,
                "other" => out.other = true,
                "untagged" => out.untagged = true,
                "alias" => {
                    return Err(meta.error(
                        "a serde alias is not described: validation would refuse the alias that serde accepts",
                    ));
                }
                _ => skip_meta(&meta)?,
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// The name of `rename = "x"` or `rename(deserialize = "x")`.
fn deserialize_name(meta: &ParseNestedMeta) -> syn::Result<Option<String>> {
    if meta.input.peek(Token![=]) {
        return Ok(Some(meta.value()?.parse::<LitStr>()?.value()));
    }
    let mut name = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("deserialize") {
            name = Some(inner.value()?.parse::<LitStr>()?.value());
        } else {
            skip_meta(&inner)?;
        }
        Ok(())
    })?;
    Ok(name)
}

/// Consumes a serde attribute this derive has no use for.
fn skip_meta(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Lit>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|inner| skip_meta(&inner))?;
    }
    Ok(())
}

/// The doc comment's lines joined into one, without a final period (the
/// style of `plugins describe`).
fn doc_text(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .filter(|line| !line.is_empty())
        .collect();
    let text = lines.join(" ");
    text.strip_suffix('.').unwrap_or(&text).to_string()
}

/// Whether serde treats a missing field of this type as `None`.
fn is_option(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Option"),
        _ => false,
    }
}

/// A snake_case field name under a serde `rename_all` rule.
fn rename_field(name: &str, rule: &str) -> Option<String> {
    let pascal: String = name
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    Some(match rule {
        "lowercase" | "snake_case" => name.to_string(),
        "UPPERCASE" | "SCREAMING_SNAKE_CASE" => name.to_uppercase(),
        "kebab-case" => name.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => name.replace('_', "-").to_uppercase(),
        "PascalCase" => pascal,
        "camelCase" => lower_first(&pascal),
        _ => return None,
    })
}

/// A PascalCase variant name under a serde `rename_all` rule.
fn rename_variant(name: &str, rule: &str) -> Option<String> {
    let mut snake = String::new();
    for (i, c) in name.char_indices() {
        if c.is_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.extend(c.to_lowercase());
    }
    Some(match rule {
        "lowercase" => name.to_lowercase(),
        "UPPERCASE" => name.to_uppercase(),
        "PascalCase" => name.to_string(),
        "camelCase" => lower_first(name),
        "snake_case" => snake,
        "SCREAMING_SNAKE_CASE" => snake.to_uppercase(),
        "kebab-case" => snake.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => snake.replace('_', "-").to_uppercase(),
        _ => return None,
    })
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}
