//! Config descriptions (like Kafka Connect's `ConfigDef`) and their validation.
//!
//! Each factory describes its keys; the host validates a user's config against
//! that description before it creates anything, so unknown keys and wrong types
//! are reported by name instead of surfacing as a plugin failure later.

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
}
