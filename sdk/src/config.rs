//! Config descriptions (like Kafka Connect's `ConfigDef`) and their validation.
//!
//! Each factory describes its keys; the host validates a user's config against
//! that description before it creates anything, so unknown keys and wrong types
//! are reported by name instead of surfacing as a plugin failure later.
//!
//! Write the description once, as the serde struct the plugin parses, and
//! derive it:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use topictable_sdk::{ConfigKeys, ConfigValue};
//!
//! /// How values are laid out.
//! #[derive(Default, Serialize, Deserialize, ConfigValue)]
//! #[serde(rename_all = "snake_case")]
//! enum Layout {
//!     #[default]
//!     Binary,
//!     Text,
//! }
//!
//! #[derive(Deserialize, ConfigKeys)]
//! struct MyConfig {
//!     /// The names to read, in column order.
//!     columns: Vec<String>,
//!     /// How values are laid out: binary or text.
//!     #[serde(default)]
//!     layout: Layout,
//!     /// The field separator.
//!     #[serde(default = "comma")]
//!     separator: String,
//! }
//!
//! fn comma() -> String {
//!     ",".into()
//! }
//!
//! let spec = MyConfig::config_spec();
//! let names: Vec<_> = spec.keys.iter().map(|k| k.name.as_str()).collect();
//! assert_eq!(names, ["columns", "layout", "separator"]);
//! assert!(spec.keys[0].required);
//! assert_eq!(spec.keys[1].default, Some(serde_json::json!("binary")));
//! assert_eq!(spec.keys[2].doc, "The field separator");
//! ```
//!
//! A key is named as serde names the field, typed by the field's
//! [`ConfigValue`], documented by its doc comment (required), and defaulted by
//! its serde `default` (serialized, so default types implement `Serialize`). A
//! field with no default that is not an `Option` is required;
//! `#[serde(flatten)]` adds the keys of the flattened struct.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The type of one config value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConfigType {
    /// A string.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Float,
    /// `true` or `false`.
    Boolean,
    /// One string out of a fixed set.
    Enum {
        /// The accepted values.
        choices: Vec<String>,
    },
    /// A list (array) of values.
    List,
    /// A table (object) of values.
    Object,
    /// Any value; the plugin checks it.
    Any,
}

impl ConfigType {
    /// [`ConfigType::Enum`] of the given names.
    pub fn one_of<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        Self::Enum {
            choices: names.into_iter().map(|n| n.as_ref().to_string()).collect(),
        }
    }

    fn accepts(&self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Integer => value.is_i64() || value.is_u64(),
            Self::Float => value.is_number(),
            Self::Boolean => value.is_boolean(),
            Self::Enum { choices } => value
                .as_str()
                .is_some_and(|s| choices.iter().any(|c| c == s)),
            Self::List => value.is_array(),
            Self::Object => value.is_object(),
            Self::Any => true,
        }
    }

    /// A short human name, as used in error messages and `plugins describe`.
    pub fn describe(&self) -> String {
        match self {
            Self::String => "string".into(),
            Self::Integer => "integer".into(),
            Self::Float => "float".into(),
            Self::Boolean => "boolean".into(),
            Self::Enum { choices } => format!("one of {}", choices.join("|")),
            Self::List => "list".into(),
            Self::Object => "table".into(),
            Self::Any => "any".into(),
        }
    }
}

/// A type a config key can hold, described for validation and `plugins
/// describe`. `#[derive(ConfigValue)]` describes a serde enum of unit variants
/// as one of its names; implement it by hand for other types of your own.
pub trait ConfigValue {
    /// The value's [`ConfigType`].
    fn config_type() -> ConfigType;
}

macro_rules! config_value {
    ($kind:expr => $($t:ty),*) => {
        $(impl ConfigValue for $t {
            fn config_type() -> ConfigType {
                $kind
            }
        })*
    };
}

config_value!(ConfigType::String => String, std::path::PathBuf);
config_value!(ConfigType::Boolean => bool);
config_value!(ConfigType::Integer => i8, i16, i32, i64, u8, u16, u32, u64, usize);
config_value!(ConfigType::Float => f32, f64);
config_value!(ConfigType::Object => Map<String, Value>);
config_value!(ConfigType::Any => Value);

impl<T: ConfigValue> ConfigValue for Option<T> {
    fn config_type() -> ConfigType {
        T::config_type()
    }
}

impl<T> ConfigValue for Vec<T> {
    fn config_type() -> ConfigType {
        ConfigType::List
    }
}

impl<K, V, S> ConfigValue for std::collections::HashMap<K, V, S> {
    fn config_type() -> ConfigType {
        ConfigType::Object
    }
}

impl<K, V> ConfigValue for std::collections::BTreeMap<K, V> {
    fn config_type() -> ConfigType {
        ConfigType::Object
    }
}

/// A config struct whose keys are described, usually by
/// `#[derive(ConfigKeys)]` (see the [module docs](self)).
pub trait ConfigKeys {
    /// The keys, in field order.
    fn config_keys() -> Vec<ConfigKey>;

    /// The keys as a [`ConfigSpec`], for a codec's or sink's description.
    fn config_spec() -> ConfigSpec {
        ConfigSpec::new(Self::config_keys())
    }
}

/// A default as it appears in a [`ConfigKey`]: `None` for a default that
/// serializes to `null` (an `Option` left unset). Used by the derive.
#[doc(hidden)]
pub fn default_value<T: Serialize>(value: &T) -> Option<Value> {
    serde_json::to_value(value).ok().filter(|v| !v.is_null())
}

/// One documented config key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigKey {
    /// The key as written in a pipeline file.
    pub name: String,
    /// Its type.
    #[serde(flatten)]
    pub kind: ConfigType,
    /// Used when the key is absent.
    pub default: Option<Value>,
    /// Whether the key must be given (keys with a default never are).
    pub required: bool,
    /// One line on what the key does.
    pub doc: String,
}

impl ConfigKey {
    /// An optional key with a default.
    pub fn optional(name: &str, kind: ConfigType, default: Value, doc: &str) -> Self {
        Self {
            name: name.into(),
            kind,
            default: Some(default),
            required: false,
            doc: doc.into(),
        }
    }
    /// An optional key without a default (absent means "not set").
    pub fn unset(name: &str, kind: ConfigType, doc: &str) -> Self {
        Self {
            name: name.into(),
            kind,
            default: None,
            required: false,
            doc: doc.into(),
        }
    }
    /// A key that must be given.
    pub fn required(name: &str, kind: ConfigType, doc: &str) -> Self {
        Self {
            name: name.into(),
            kind,
            default: None,
            required: true,
            doc: doc.into(),
        }
    }
}

/// All keys a factory accepts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigSpec {
    /// The keys, in documentation order.
    pub keys: Vec<ConfigKey>,
}

/// A validated config with a label saying what it tries (`key = choice`).
pub type LabelledConfig = (String, Map<String, Value>);

/// One problem found in a config; a validation reports all of them at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The config is not a table of keys.
    #[error("expected a table of config keys, found {found}")]
    NotATable {
        /// What was found instead.
        found: String,
    },
    /// A key the factory does not know.
    #[error("unknown key `{key}`{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The closest known key, when one is close.
        suggestion: Option<String>,
    },
    /// A key whose value has the wrong type.
    #[error("key `{key}`: expected {expected}, found {found}")]
    WrongType {
        /// The key.
        key: String,
        /// The expected type.
        expected: String,
        /// The value found, as written.
        found: String,
    },
    /// A required key that is absent.
    #[error("missing required key `{key}` ({doc})")]
    Missing {
        /// The key.
        key: String,
        /// Its documentation line.
        doc: String,
    },
}

impl ConfigSpec {
    /// A spec from a list of keys.
    pub fn new(keys: Vec<ConfigKey>) -> Self {
        Self { keys }
    }

    /// Checks `config` against this spec and returns it with defaults filled in,
    /// or every problem found (unknown keys, wrong types, missing keys).
    pub fn validate(&self, config: &Value) -> Result<Map<String, Value>, Vec<ConfigError>> {
        let empty = Map::new();
        let given = match config {
            Value::Object(map) => map,
            Value::Null => &empty,
            other => {
                return Err(vec![ConfigError::NotATable {
                    found: short_json(other),
                }]);
            }
        };
        let mut errors = Vec::new();
        for key in given.keys() {
            if !self.keys.iter().any(|k| &k.name == key) {
                let suggestion = closest(key, self.keys.iter().map(|k| k.name.as_str()));
                errors.push(ConfigError::UnknownKey {
                    key: key.clone(),
                    suggestion,
                });
            }
        }
        let mut out = Map::new();
        for spec in &self.keys {
            match given.get(&spec.name) {
                Some(value) if !spec.kind.accepts(value) => errors.push(ConfigError::WrongType {
                    key: spec.name.clone(),
                    expected: spec.kind.describe(),
                    found: short_json(value),
                }),
                Some(value) => {
                    out.insert(spec.name.clone(), value.clone());
                }
                None if spec.required => errors.push(ConfigError::Missing {
                    key: spec.name.clone(),
                    doc: spec.doc.clone(),
                }),
                None => {
                    if let Some(default) = &spec.default {
                        out.insert(spec.name.clone(), default.clone());
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// `base`, validated, then with each choice of each enum key in turn, each
    /// validated and filled in, labelled `key = choice`: for a plugin's test
    /// that its parser takes every value its description offers.
    pub fn every_choice(&self, base: &Value) -> Result<Vec<LabelledConfig>, Vec<ConfigError>> {
        let mut out = vec![("base".to_string(), self.validate(base)?)];
        for key in &self.keys {
            let ConfigType::Enum { choices } = &key.kind else {
                continue;
            };
            for choice in choices {
                let mut given = base.clone();
                given[&key.name] = Value::from(choice.as_str());
                out.push((format!("{} = {choice}", key.name), self.validate(&given)?));
            }
        }
        Ok(out)
    }
}

fn short_json(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// The candidate closest to `word` by edit distance, when it is close enough
/// to be a likely typo ("did you mean").
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> ConfigSpec {
        ConfigSpec::new(vec![
            ConfigKey::required(
                "type",
                ConfigType::one_of(["int64", "string"]),
                "column type",
            ),
            ConfigKey::optional(
                "column",
                ConfigType::String,
                json!("KafkaValue"),
                "column name",
            ),
            ConfigKey::unset("lenient", ConfigType::Boolean, "coerce"),
        ])
    }

    #[test]
    fn fills_defaults_and_keeps_given_values() {
        let out = spec().validate(&json!({"type": "int64"})).unwrap();
        assert_eq!(out["column"], json!("KafkaValue"));
        assert_eq!(out["type"], json!("int64"));
        assert!(!out.contains_key("lenient"));
    }

    #[test]
    fn reports_every_problem_by_name() {
        let errs = spec()
            .validate(&json!({"colum": "x", "type": "int7", "lenient": "yes"}))
            .unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            text.contains(&"unknown key `colum` (did you mean `column`?)".to_string()),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("key `type`: expected one of int64|string, found \"int7\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("key `lenient`: expected boolean")),
            "{text:?}"
        );
        let missing = spec().validate(&json!({})).unwrap_err();
        assert!(matches!(&missing[0], ConfigError::Missing { key, .. } if key == "type"));
    }

    /// Framing, as a codec would have it.
    #[derive(
        Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, crate::ConfigValue,
    )]
    #[serde(rename_all = "snake_case")]
    enum Framing {
        #[default]
        LengthPrefixed,
        #[serde(rename = "none")]
        Bare,
    }

    #[derive(Debug, Default, PartialEq, Deserialize, crate::ConfigKeys)]
    struct Shared {
        /// Where the registry is.
        url: Option<String>,
        /// Request retries.
        #[serde(default = "three")]
        retries: u32,
    }

    fn three() -> u32 {
        3
    }

    #[derive(Debug, PartialEq, Deserialize, crate::ConfigKeys)]
    #[serde(deny_unknown_fields)]
    struct Derived {
        /// The column's type.
        #[serde(rename = "type")]
        kind: String,
        /// How messages are framed:
        /// length-prefixed or bare.
        #[serde(default)]
        framing: Framing,
        /// Field renames.
        #[serde(default)]
        mapping: std::collections::BTreeMap<String, String>,
        /// Columns to keep.
        #[serde(default)]
        include: Option<Vec<String>>,
        #[serde(flatten)]
        shared: Shared,
    }

    #[test]
    fn derived_keys_follow_the_serde_struct() {
        use crate::ConfigKeys;
        let keys = Derived::config_keys();
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(
            names,
            ["type", "framing", "mapping", "include", "url", "retries"]
        );
        let kind = &keys[0];
        assert!(kind.required && kind.default.is_none());
        assert_eq!(kind.kind, ConfigType::String);
        assert_eq!(kind.doc, "The column's type");
        let framing = &keys[1];
        assert_eq!(
            framing.kind,
            ConfigType::one_of(["length_prefixed", "none"])
        );
        assert_eq!(framing.default, Some(json!("length_prefixed")));
        assert_eq!(
            framing.doc,
            "How messages are framed: length-prefixed or bare"
        );
        assert_eq!(keys[2].kind, ConfigType::Object);
        assert_eq!(keys[2].default, Some(json!({})));
        assert_eq!(keys[3].kind, ConfigType::List);
        assert!(!keys[3].required && keys[3].default.is_none());
        assert!(!keys[4].required && keys[4].default.is_none());
        assert_eq!(
            (keys[5].kind.clone(), keys[5].default.clone()),
            (ConfigType::Integer, Some(json!(3)))
        );
    }

    /// A struct defaulted as a whole (`#[serde(default = "...")]` on the
    /// container) shows each field's default from that function.
    #[derive(Debug, Serialize, Deserialize, crate::ConfigKeys)]
    #[serde(default = "Whole::defaults")]
    struct Whole {
        /// Rows per file.
        rows: u64,
        /// The name prefix.
        prefix: Option<String>,
    }

    impl Whole {
        fn defaults() -> Self {
            Self {
                rows: 1000,
                prefix: Some("part".into()),
            }
        }
    }

    #[test]
    fn a_container_default_describes_each_field() {
        use crate::ConfigKeys;
        let keys = Whole::config_keys();
        assert_eq!(keys[0].default, Some(json!(1000)));
        assert_eq!(keys[1].default, Some(json!("part")));
        assert!(!keys[0].required && !keys[1].required);
        let parsed: Whole = serde_json::from_value(json!({})).unwrap();
        assert_eq!(
            (parsed.rows, parsed.prefix.as_deref()),
            (1000, Some("part"))
        );
    }

    /// What validation accepts (and fills in), serde parses, for every choice
    /// of every enum key: the description and the parser cannot drift.
    #[test]
    fn what_the_derived_spec_accepts_serde_parses() {
        use crate::ConfigKeys;
        let spec = Derived::config_spec();
        let tried = spec.every_choice(&json!({"type": "int64"})).unwrap();
        let labels: Vec<&str> = tried.iter().map(|(label, _)| label.as_str()).collect();
        assert_eq!(
            labels,
            ["base", "framing = length_prefixed", "framing = none"]
        );
        for (_, filled) in tried {
            let parsed: Derived = serde_json::from_value(Value::Object(filled)).unwrap();
            assert_eq!(parsed.shared.retries, 3);
            assert_eq!(parsed.kind, "int64");
        }
        let filled = spec.validate(&json!({"type": "int64"})).unwrap();
        let parsed: Derived = serde_json::from_value(Value::Object(filled)).unwrap();
        assert_eq!(parsed.framing, Framing::LengthPrefixed);
        assert!(
            spec.validate(&json!({"type": "x", "framing": "Bare"}))
                .is_err()
        );
        assert!(spec.validate(&json!({"framing": "none"})).is_err());
    }
}
