//! A pipeline file as shown over the API: secret values masked.
//!
//! `GET /api/v1/pipelines/NAME` (and the answers to POST and PUT) return the
//! definition, and what the API returns ends up in browsers, logs and
//! tickets. So the value of every key that holds a secret (a password, a
//! token, a JAAS config, Confluent's `basic.auth.user.info`) reads `***`,
//! and so does the user info of every URL (`https://***@host`). A value that
//! is a reference (`"${env:NAME}"`, `"${file:PATH}"`) is kept: it names where
//! the secret is, not the secret.

use toml_edit::{DocumentMut, Item, Value, visit_mut::VisitMut};

use topictable_schema_registry::redact_credentials;

/// What a masked secret shows.
const MASK: &str = "***";

/// Whether a key's value is a secret.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "jaas",
        "user.info",
        "user_info",
    ]
    .iter()
    .any(|part| key.contains(part))
        || key.ends_with("key.pem")
}

/// `text` (a pipeline file) with every secret value masked; the rest,
/// comments and layout included, as written.
pub fn redact_secrets(text: &str) -> String {
    let Ok(mut doc) = text.parse::<DocumentMut>() else {
        // Not TOML (it was checked when stored, so this is unexpected):
        // mask what can be found without parsing.
        return redact_credentials(text);
    };
    Masker.visit_document_mut(&mut doc);
    doc.to_string()
}

struct Masker;

impl Masker {
    fn mask(value: &mut Value, secret: bool) {
        if let Value::String(s) = value {
            let text = s.value();
            let shown = if secret && !text.starts_with("${") {
                MASK.to_string()
            } else {
                redact_credentials(text)
            };
            if shown != *text {
                let decor = s.decor().clone();
                *s = toml_edit::Formatted::new(shown);
                *s.decor_mut() = decor;
            }
        }
    }
}

impl VisitMut for Masker {
    fn visit_table_like_kv_mut(&mut self, key: toml_edit::KeyMut<'_>, node: &mut Item) {
        let secret = is_secret_key(key.get());
        match node {
            Item::Value(Value::InlineTable(_)) | Item::Table(_) | Item::ArrayOfTables(_) => {}
            Item::Value(v) => return Self::mask(v, secret),
            Item::None => return,
        }
        toml_edit::visit_mut::visit_item_mut(self, node);
    }

    fn visit_value_mut(&mut self, node: &mut Value) {
        match node {
            Value::String(_) => Self::mask(node, false),
            _ => toml_edit::visit_mut::visit_value_mut(self, node),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_and_url_credentials_are_masked_and_the_rest_kept() {
        let text = r#"# orders, with secrets
[kafka]
"bootstrap.servers" = "broker:9092"   # the cluster
"sasl.password" = "MARKER-1"
"ssl.key.password" = "${env:KEY_PASSWORD}"

[[table]]
name = "orders"
topic = "orders"
value = { format = "avro", schema_registry_url = "https://u:MARKER-2@registry:8081", registry_password = "MARKER-3", registry_bearer_token = "MARKER-4" }
properties = { "sasl.jaas.config" = "org.apache.kafka... password=\"MARKER-5\";", "basic.auth.user.info" = "u:MARKER-6" }
"#;
        let shown = redact_secrets(text);
        assert!(!shown.contains("MARKER"), "{shown}");
        assert!(shown.starts_with("# orders, with secrets\n[kafka]\n\"bootstrap.servers\" = \"broker:9092\"   # the cluster\n"), "{shown}");
        assert!(shown.contains(r#""sasl.password" = "***""#), "{shown}");
        assert!(
            shown.contains(r#""ssl.key.password" = "${env:KEY_PASSWORD}""#),
            "a reference stays: {shown}"
        );
        assert!(shown.contains("https://***@registry:8081"), "{shown}");
        assert!(shown.contains(r#"registry_password = "***""#), "{shown}");
        assert!(shown.contains(r#"name = "orders""#), "{shown}");
        assert!(shown.parse::<DocumentMut>().is_ok());
    }
}
