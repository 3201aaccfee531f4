//! The registry settings every Confluent-framed codec shares: where the
//! registry is, how to reach it, and which subject and version to read.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use topictable_sdk::ConfigKeys;

use crate::{ClientConfig, RegistryClient, SubjectNameStrategy, Version};

/// Registry keys of a codec's config (flattened into it with `#[serde(flatten)]`).
/// The doc comments are what `plugins describe` shows. `Debug` masks the
/// password and any credentials in the URL.
#[derive(Clone, PartialEq, Deserialize, ConfigKeys)]
pub struct RegistrySettings {
    /// Schema Registry URL(s), comma-separated (needed for protocol confluent).
    #[serde(default)]
    pub schema_registry_url: Option<String>,
    /// Subject of the reader schema in the registry (default: from topic and
    /// subject_strategy).
    #[serde(default)]
    pub schema_subject: Option<String>,
    /// Version of schema_subject: a number or "latest".
    #[serde(default = "latest")]
    pub schema_version: Option<Value>,
    /// Topic name, to name the subject with subject_strategy when
    /// schema_subject is unset.
    #[serde(default)]
    pub topic: Option<String>,
    /// How subjects are named: TOPIC-value (or -key), the record's full
    /// name, or TOPIC-FULLNAME.
    #[serde(default)]
    pub subject_strategy: SubjectNameStrategy,
    /// Registry basic auth user.
    #[serde(default)]
    pub registry_user: Option<String>,
    /// Registry basic auth password.
    #[serde(default)]
    pub registry_password: Option<String>,
    /// Registry bearer token (instead of registry_user and registry_password).
    #[serde(default)]
    pub registry_bearer_token: Option<String>,
    /// PEM file of a CA to trust for an https registry.
    #[serde(default)]
    pub registry_ca_cert: Option<String>,
    /// PEM file of the client certificate, for a registry that asks for one
    /// (mutual TLS).
    #[serde(default)]
    pub registry_client_cert: Option<String>,
    /// PEM file of registry_client_cert's private key.
    #[serde(default)]
    pub registry_client_key: Option<String>,
    /// Send credentials over plain http to a host that is not loopback
    /// (refused by default).
    #[serde(default)]
    pub registry_allow_insecure_auth: bool,
    /// Time limit of one registry request, in ms.
    #[serde(default = "default_timeout_ms")]
    pub registry_timeout_ms: u64,
    /// Retries (with backoff from 100 ms) when the registry is unreachable or
    /// answers 5xx.
    #[serde(default = "default_retries")]
    pub registry_retries: u32,
}

fn latest() -> Option<Value> {
    Some(Value::from("latest"))
}

fn default_timeout_ms() -> u64 {
    u64::try_from(ClientConfig::new("").request_timeout.as_millis()).unwrap_or(u64::MAX)
}

fn default_retries() -> u32 {
    ClientConfig::new("").max_retries
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            schema_registry_url: None,
            schema_subject: None,
            schema_version: latest(),
            topic: None,
            subject_strategy: SubjectNameStrategy::default(),
            registry_user: None,
            registry_password: None,
            registry_bearer_token: None,
            registry_ca_cert: None,
            registry_client_cert: None,
            registry_client_key: None,
            registry_allow_insecure_auth: false,
            registry_timeout_ms: default_timeout_ms(),
            registry_retries: default_retries(),
        }
    }
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
        cc.allow_insecure_auth = self.registry_allow_insecure_auth;
        cc.request_timeout = Duration::from_millis(self.registry_timeout_ms);
        cc.max_retries = self.registry_retries;
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
        let strategy = self.subject_strategy;
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
