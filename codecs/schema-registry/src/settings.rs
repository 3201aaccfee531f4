//! The registry settings every Confluent-framed codec shares: where the
//! registry is, how to reach it, and which subject and version to read.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use topictable_sdk::{ConfigKey, ConfigType};

use crate::{ClientConfig, RegistryClient, SubjectNameStrategy, Version};

/// Registry keys of a codec's config (flattened into it with `#[serde(flatten)]`).
/// `Debug` masks the password and any credentials in the URL.
#[derive(Clone, Default, PartialEq, Deserialize)]
pub struct RegistrySettings {
    /// Registry URL(s), comma-separated.
    #[serde(default)]
    pub schema_registry_url: Option<String>,
    /// The reader schema's subject.
    #[serde(default)]
    pub schema_subject: Option<String>,
    /// Its version: a number or `"latest"`.
    #[serde(default)]
    pub schema_version: Option<Value>,
    /// The topic, to name the subject with `subject_strategy`.
    #[serde(default)]
    pub topic: Option<String>,
    /// `topic_name` (default), `record_name` or `topic_record_name`.
    #[serde(default)]
    pub subject_strategy: Option<String>,
    /// Basic auth user.
    #[serde(default)]
    pub registry_user: Option<String>,
    /// Basic auth password.
    #[serde(default)]
    pub registry_password: Option<String>,
    /// Bearer token, instead of basic auth.
    #[serde(default)]
    pub registry_bearer_token: Option<String>,
    /// PEM file of a CA to trust.
    #[serde(default)]
    pub registry_ca_cert: Option<String>,
    /// PEM file of the client certificate (chain), for mutual TLS.
    #[serde(default)]
    pub registry_client_cert: Option<String>,
    /// PEM file of the client certificate's private key.
    #[serde(default)]
    pub registry_client_key: Option<String>,
    /// Allows credentials over plain http to a host that is not loopback.
    #[serde(default)]
    pub registry_allow_insecure_auth: Option<bool>,
    /// Time limit of one request, in ms.
    #[serde(default)]
    pub registry_timeout_ms: Option<u64>,
    /// Retries when the registry is unreachable or answers 5xx.
    #[serde(default)]
    pub registry_retries: Option<u32>,
}

impl std::fmt::Debug for RegistrySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySettings")
            .field(
                "schema_registry_url",
                &self
                    .schema_registry_url
                    .as_deref()
                    .map(crate::redact_credentials),
            )
            .field("schema_subject", &self.schema_subject)
            .field("schema_version", &self.schema_version)
            .field("topic", &self.topic)
            .field("subject_strategy", &self.subject_strategy)
            .field("registry_user", &self.registry_user)
            .field(
                "registry_password",
                &self.registry_password.as_ref().map(|_| "***"),
            )
            .field(
                "registry_bearer_token",
                &self.registry_bearer_token.as_ref().map(|_| "***"),
            )
            .field("registry_ca_cert", &self.registry_ca_cert)
            .field("registry_client_cert", &self.registry_client_cert)
            .field("registry_client_key", &self.registry_client_key)
            .field(
                "registry_allow_insecure_auth",
                &self.registry_allow_insecure_auth,
            )
            .field("registry_timeout_ms", &self.registry_timeout_ms)
            .field("registry_retries", &self.registry_retries)
            .finish()
    }
}

impl RegistrySettings {
    /// The keys, for a codec's `ConfigSpec`.
    pub fn config_keys() -> Vec<ConfigKey> {
        let strategies = ["topic_name", "record_name", "topic_record_name"];
        vec![
            ConfigKey::unset(
                "schema_registry_url",
                ConfigType::String,
                "Schema Registry URL(s), comma-separated (needed for protocol confluent)",
            ),
            ConfigKey::unset(
                "schema_subject",
                ConfigType::String,
                "subject of the reader schema in the registry (default: from topic and subject_strategy)",
            ),
            ConfigKey::optional(
                "schema_version",
                ConfigType::Any,
                json!("latest"),
                "version of schema_subject: a number or \"latest\"",
            ),
            ConfigKey::unset(
                "topic",
                ConfigType::String,
                "topic name, to name the subject with subject_strategy when schema_subject is unset",
            ),
            ConfigKey::optional(
                "subject_strategy",
                ConfigType::one_of(strategies),
                json!("topic_name"),
                "how subjects are named: <topic>-value/-key, <record name>, or <topic>-<record name>",
            ),
            ConfigKey::unset(
                "registry_user",
                ConfigType::String,
                "registry basic auth user",
            ),
            ConfigKey::unset(
                "registry_password",
                ConfigType::String,
                "registry basic auth password",
            ),
            ConfigKey::unset(
                "registry_bearer_token",
                ConfigType::String,
                "registry bearer token (instead of registry_user and registry_password)",
            ),
            ConfigKey::unset(
                "registry_ca_cert",
                ConfigType::String,
                "PEM file of a CA to trust for an https registry",
            ),
            ConfigKey::unset(
                "registry_client_cert",
                ConfigType::String,
                "PEM file of the client certificate, for a registry that asks for one (mutual TLS)",
            ),
            ConfigKey::unset(
                "registry_client_key",
                ConfigType::String,
                "PEM file of registry_client_cert's private key",
            ),
            ConfigKey::optional(
                "registry_allow_insecure_auth",
                ConfigType::Boolean,
                json!(false),
                "send credentials over plain http to a host that is not loopback (refused by default)",
            ),
            ConfigKey::optional(
                "registry_timeout_ms",
                ConfigType::Integer,
                json!(10000),
                "time limit of one registry request",
            ),
            ConfigKey::optional(
                "registry_retries",
                ConfigType::Integer,
                json!(3),
                "retries (with backoff from 100 ms) when the registry is unreachable or answers 5xx",
            ),
        ]
    }

    /// The registry client, if a URL is configured.
    pub fn client(&self) -> Result<Option<RegistryClient>, String> {
        let Some(url) = &self.schema_registry_url else {
            return Ok(None);
        };
        let mut cc = ClientConfig::new(url);
        if let Some(user) = &self.registry_user {
            cc = cc.with_basic_auth(user, self.registry_password.as_deref().unwrap_or(""));
        }
        if let Some(token) = &self.registry_bearer_token {
            cc = cc.with_bearer_token(token);
        }
        let read =
            |key: &str, path: &str| std::fs::read(path).map_err(|e| format!("{key} `{path}`: {e}"));
        if let Some(path) = &self.registry_ca_cert {
            cc.ca_cert_pem = Some(read("registry_ca_cert", path)?);
        }
        match (&self.registry_client_cert, &self.registry_client_key) {
            (Some(cert), Some(key)) => {
                let mut pem = read("registry_client_cert", cert)?;
                pem.push(b'\n');
                pem.extend(read("registry_client_key", key)?);
                cc.client_identity_pem = Some(pem);
            }
            (None, None) => {}
            _ => {
                return Err(
                    "registry_client_cert and registry_client_key go together: give both".into(),
                );
            }
        }
        cc.allow_insecure_auth = self.registry_allow_insecure_auth.unwrap_or(false);
        if let Some(ms) = self.registry_timeout_ms {
            cc.request_timeout = Duration::from_millis(ms);
        }
        if let Some(n) = self.registry_retries {
            cc.max_retries = n;
        }
        RegistryClient::new(cc).map(Some).map_err(|e| e.to_string())
    }

    /// The subject for the key or value side, if config names one
    /// (`record_name` is the codec's record or message full name).
    pub fn subject(
        &self,
        is_key: bool,
        record_name: Option<&str>,
    ) -> Result<Option<String>, String> {
        if let Some(s) = &self.schema_subject {
            return Ok(Some(s.clone()));
        }
        let strategy = match self.subject_strategy.as_deref() {
            None => SubjectNameStrategy::TopicName,
            Some(name) => SubjectNameStrategy::ALL
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| *s)
                .ok_or_else(|| format!("unknown subject_strategy `{name}`"))?,
        };
        let topic = self.topic.as_deref().unwrap_or_default();
        if strategy != SubjectNameStrategy::RecordName && topic.is_empty() {
            return Ok(None);
        }
        strategy.subject(topic, is_key, record_name).map(Some)
    }

    /// The version `schema_version` names.
    pub fn version(&self) -> Result<Version, String> {
        match &self.schema_version {
            None => Ok(Version::Latest),
            Some(Value::String(s)) if s == "latest" => Ok(Version::Latest),
            Some(Value::Number(n)) if n.as_i64().is_some_and(|n| n >= 1) => {
                Ok(Version::Number(n.as_i64().unwrap_or(1) as i32))
            }
            Some(Value::String(s)) if s.parse::<i32>().is_ok_and(|n| n >= 1) => {
                Ok(Version::Number(s.parse().unwrap_or(1)))
            }
            Some(v) => Err(format!(
                "schema_version must be a version number or \"latest\", got {v}"
            )),
        }
    }
}
