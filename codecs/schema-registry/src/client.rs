//! A Schema Registry client whose calls block, made for codecs that decode on
//! ordinary threads.
//!
//! Requests run on the client's own small tokio runtime (one background
//! thread), so the client works the same whether or not the caller is inside
//! another runtime. Schemas fetched by id, and versions fetched by number,
//! are cached for the client's life (they never change in a registry); a
//! schema id the registry does not know is remembered for a short while so
//! a topic full of bad ids does not turn into a request per message.
//!
//! ```no_run
//! use topictable_schema_registry::{ClientConfig, RegistryClient};
//! let client = RegistryClient::new(ClientConfig::new("http://localhost:8081"))?;
//! let schema = client.schema_by_id(1)?;
//! println!("{} ({} references)", schema.schema.schema, schema.references.len());
//! # Ok::<(), topictable_schema_registry::RegistryError>(())
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::model::{
    CONTENT_TYPE, ErrorBody, Schema, SchemaReference, SubjectAndVersion, SubjectVersion,
};
use crate::redact::redact_credentials;

/// How the client reaches the registry (`Debug` masks the credentials).
#[derive(Clone)]
pub struct ClientConfig {
    /// Base URLs, tried in order (Confluent's `schema.registry.url` also takes a comma-separated list).
    pub urls: Vec<String>,
    /// HTTP basic auth `(user, password)`.
    pub basic_auth: Option<(String, String)>,
    /// A bearer token (`Authorization: Bearer …`), instead of basic auth
    /// (Confluent's `bearer.auth.token`).
    pub bearer_token: Option<String>,
    /// Extra trusted root certificate(s), PEM, for a registry behind a private CA.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// The client's own certificate chain and private key, PEM, for a
    /// registry that asks for client certificates (mutual TLS).
    pub client_identity_pem: Option<Vec<u8>>,
    /// Sends credentials over plain `http://` to a host that is not loopback;
    /// off by default, since anyone on the path could read them.
    pub allow_insecure_auth: bool,
    /// Time limit of one HTTP request.
    pub request_timeout: Duration,
    /// Time limit to open a connection.
    pub connect_timeout: Duration,
    /// Retries after the first attempt, for connection failures, timeouts, 429 and 5xx.
    pub max_retries: u32,
    /// Wait before the first retry; it doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest wait between retries.
    pub max_backoff: Duration,
    /// How long an unknown schema id (404) is remembered before it is asked again.
    pub not_found_ttl: Duration,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("urls", &redact_credentials(&self.urls.join(",")))
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|(user, _)| (user, "***")),
            )
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "***"))
            .field("ca_cert_pem", &self.ca_cert_pem.as_ref().map(Vec::len))
            .field(
                "client_identity_pem",
                &self.client_identity_pem.as_ref().map(|_| "***"),
            )
            .field("allow_insecure_auth", &self.allow_insecure_auth)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Defaults for `url` (a comma-separated list is split): 10 s requests, 3 retries from 100 ms.
    pub fn new(url: &str) -> Self {
        Self {
            urls: url
                .split(',')
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect(),
            basic_auth: None,
            bearer_token: None,
            ca_cert_pem: None,
            client_identity_pem: None,
            allow_insecure_auth: false,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            not_found_ttl: Duration::from_secs(10),
        }
    }

    /// Sets basic auth.
    pub fn with_basic_auth(mut self, user: &str, password: &str) -> Self {
        self.basic_auth = Some((user.into(), password.into()));
        self
    }

    /// Sets a bearer token.
    pub fn with_bearer_token(mut self, token: &str) -> Self {
        self.bearer_token = Some(token.into());
        self
    }

    /// Sets the number of retries and the first backoff.
    pub fn with_retries(mut self, max_retries: u32, initial_backoff: Duration) -> Self {
        self.max_retries = max_retries;
        self.initial_backoff = initial_backoff;
        self
    }
}

/// Why a registry call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The client config is unusable (bad URL, bad certificate).
    #[error("invalid schema registry client config: {0}")]
    Config(String),
    /// No answer after every retry (connection refused, DNS failure, timeout, 5xx).
    #[error("schema registry at {url} unreachable after {attempts} attempts: {reason}")]
    Unreachable {
        /// The URL(s) tried.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// The registry answered with an error (404 subject or schema not found, 422 invalid schema, 401, …).
    #[error("schema registry {request}: HTTP {status}, error {error_code}: {message}")]
    Api {
        /// Method and path, e.g. `GET /schemas/ids/7`.
        request: String,
        /// HTTP status.
        status: u16,
        /// Confluent error code (`40403` schema not found, …), or the status when the body had none.
        error_code: u32,
        /// The registry's message.
        message: String,
    },
    /// The registry answered 2xx with a body this client does not understand.
    #[error("schema registry {request}: unexpected response: {reason}")]
    InvalidResponse {
        /// Method and path.
        request: String,
        /// What was wrong.
        reason: String,
    },
    /// Schema references loop or nest too deeply.
    #[error("schema references: {0}")]
    References(String),
}

impl RegistryError {
    /// Whether the registry said the schema, subject or version does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryError::Api { status: 404, .. })
    }

    /// Whether the registry could not answer (unreachable, timed out, 5xx
    /// or 429 after every retry): the request may succeed later, so what
    /// needed it is held, not judged bad.
    pub fn is_unavailable(&self) -> bool {
        match self {
            RegistryError::Unreachable { .. } => true,
            RegistryError::Api { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// A schema together with every schema it references, fetched recursively.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedSchema {
    /// Its global id, when known.
    pub id: Option<u32>,
    /// The schema as registered.
    pub schema: Schema,
    /// Its references, each resolved, in the order the schema lists them.
    pub references: Vec<ResolvedReference>,
}

/// One resolved reference.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedReference {
    /// The reference as written in the referring schema.
    pub reference: SchemaReference,
    /// The referenced schema, itself resolved.
    pub resolved: Arc<ResolvedSchema>,
}

impl ResolvedSchema {
    /// Every schema text this schema needs, dependencies first (each once),
    /// and this schema's own text last: the order Avro parsers want.
    pub fn texts_in_dependency_order(&self) -> Vec<&str> {
        fn walk<'a>(s: &'a ResolvedSchema, out: &mut Vec<&'a str>) {
            for r in &s.references {
                walk(&r.resolved, out);
            }
            if !out.contains(&s.schema.schema.as_str()) {
                out.push(&s.schema.schema);
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}

/// Which version of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The newest one (`latest`); never cached.
    Latest,
    /// A version number (from 1); cached.
    Number(i32),
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::Number(n) => write!(f, "{n}"),
        }
    }
}

const MAX_REFERENCE_DEPTH: usize = 32;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A cached subject version and its resolved schema.
type VersionHit = (SubjectVersion, Arc<ResolvedSchema>);

struct Inner {
    http: reqwest::Client,
    urls: Vec<Url>,
    config: ClientConfig,
    by_id: Mutex<HashMap<u32, Arc<ResolvedSchema>>>,
    by_version: Mutex<HashMap<(String, i32), VersionHit>>,
    not_found: Mutex<HashMap<u32, (Instant, RegistryError)>>,
    calls: AtomicU64,
}

/// A Schema Registry client; cheap to clone (clones share the cache and the call count).
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
    runtime: Arc<ClientRuntime>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field(
                "urls",
                &redact_credentials(&self.inner.config.urls.join(",")),
            )
            .field("http_calls", &self.http_calls())
            .finish()
    }
}

/// The client's runtime, on a thread of its own so that blocking calls work
/// from inside or outside any other runtime.
struct ClientRuntime {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ClientRuntime {
    fn start() -> Result<Self, RegistryError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| RegistryError::Config(format!("cannot start the client runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("schema-registry-client".into())
            .spawn(move || {
                let _ = runtime.block_on(stopped);
            })
            .map_err(|e| RegistryError::Config(format!("cannot start the client thread: {e}")))?;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn block_on<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().ok()
    }
}

impl Drop for ClientRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Joining from the runtime's own thread would deadlock; that cannot
            // happen because only client calls run there and they hold no client.
            let _ = thread.join();
        }
    }
}

impl RegistryClient {
    /// A client for `config`; it connects lazily, so an unreachable registry
    /// is reported by the first call, not here.
    pub fn new(config: ClientConfig) -> Result<Self, RegistryError> {
        if config.urls.is_empty() {
            return Err(RegistryError::Config("no registry URL given".into()));
        }
        let urls = config
            .urls
            .iter()
            .map(|u| {
                Url::parse(u).map_err(|e| {
                    RegistryError::Config(redact_credentials(&format!("registry URL `{u}`: {e}")))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if config.basic_auth.is_some() && config.bearer_token.is_some() {
            return Err(RegistryError::Config(
                "give basic auth (registry_user, registry_password) or a bearer token (registry_bearer_token), not both".into(),
            ));
        }
        if !config.allow_insecure_auth
            && let Some(url) = urls.iter().find(|u| sends_credentials_in_clear(u, &config))
        {
            return Err(RegistryError::Config(redact_credentials(&format!(
                "registry URL `{url}`: credentials over plain http to a host that is not loopback could be read on the way; use https, or set registry_allow_insecure_auth = true"
            ))));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!(
                "topictable-schema-registry/",
                env!("CARGO_PKG_VERSION")
            ));
        if let Some(pem) = &config.ca_cert_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| RegistryError::Config(format!("CA certificate: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(pem) = &config.client_identity_pem {
            let identity = reqwest::Identity::from_pem(pem)
                .map_err(|e| RegistryError::Config(format!("client certificate and key: {e}")))?;
            builder = builder.identity(identity);
        }
        let http = builder
            .build()
            .map_err(|e| RegistryError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                urls,
                config,
                by_id: Mutex::default(),
                by_version: Mutex::default(),
                not_found: Mutex::default(),
                calls: AtomicU64::new(0),
            }),
            runtime: Arc::new(ClientRuntime::start()?),
        })
    }

    /// How many HTTP requests this client (and its clones) sent, retries included.
    pub fn http_calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// The registry URL(s), comma-separated, for messages (credentials masked).
    pub fn url(&self) -> String {
        redact_credentials(&self.inner.config.urls.join(","))
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(Arc<Inner>) -> BoxFuture<'static, Result<T, RegistryError>>,
    ) -> Result<T, RegistryError> {
        let fut = f(self.inner.clone());
        self.runtime
            .block_on(fut)
            .unwrap_or_else(|| Err(RegistryError::Config("client runtime stopped".into())))
    }

    /// Unknown schema ids remembered now (at most [`MAX_NOT_FOUND_IDS`]).
    pub fn not_found_ids(&self) -> usize {
        self.inner.not_found.lock().unwrap().len()
    }

    /// The schema with global id `id` (`GET /schemas/ids/{id}`), references resolved; cached.
    pub fn schema_by_id(&self, id: u32) -> Result<Arc<ResolvedSchema>, RegistryError> {
        if let Some(s) = self.inner.by_id.lock().unwrap().get(&id) {
            return Ok(s.clone());
        }
        {
            let mut misses = self.inner.not_found.lock().unwrap();
            if let Some((at, err)) = misses.get(&id) {
                if at.elapsed() < self.inner.config.not_found_ttl {
                    return Err(err.clone());
                }
                misses.remove(&id);
            }
        }
        self.run(move |inner| Box::pin(async move { inner.schema_by_id(id, 0).await }))
    }

    /// A version of `subject` (`GET /subjects/{s}/versions/{v}`), references resolved.
    pub fn subject_version(
        &self,
        subject: &str,
        version: Version,
    ) -> Result<(SubjectVersion, Arc<ResolvedSchema>), RegistryError> {
        let subject = subject.to_string();
        self.run(move |inner| {
            Box::pin(async move { inner.subject_version(&subject, version, 0).await })
        })
    }

    /// Registers `schema` under `subject` (`POST /subjects/{s}/versions`) and returns its id.
    pub fn register(&self, subject: &str, schema: &Schema) -> Result<u32, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Id {
            id: u32,
        }
        let subject = subject.to_string();
        let body = serde_json::to_value(schema).expect("a schema is always JSON");
        self.run(move |inner| {
            Box::pin(async move {
                let id: Id = inner
                    .call(
                        Method::POST,
                        &["subjects", &subject, "versions"],
                        Some(body),
                    )
                    .await?;
                Ok(id.id)
            })
        })
    }

    /// The version of `subject` holding `schema`, if registered there
    /// (`POST /subjects/{s}`, no registration).
    pub fn lookup(&self, subject: &str, schema: &Schema) -> Result<SubjectVersion, RegistryError> {
        let subject = subject.to_string();
        let body = serde_json::to_value(schema).expect("a schema is always JSON");
        self.run(move |inner| {
            Box::pin(async move {
                inner
                    .call(Method::POST, &["subjects", &subject], Some(body))
                    .await
            })
        })
    }

    /// Every subject (`GET /subjects`).
    pub fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        self.run(|inner| {
            Box::pin(async move { inner.call(Method::GET, &["subjects"], None).await })
        })
    }

    /// The versions of `subject` (`GET /subjects/{s}/versions`).
    pub fn versions(&self, subject: &str) -> Result<Vec<i32>, RegistryError> {
        let subject = subject.to_string();
        self.run(move |inner| {
            Box::pin(async move {
                inner
                    .call(Method::GET, &["subjects", &subject, "versions"], None)
                    .await
            })
        })
    }

    /// Where schema `id` is registered (`GET /schemas/ids/{id}/versions`).
    pub fn id_versions(&self, id: u32) -> Result<Vec<SubjectAndVersion>, RegistryError> {
        self.run(move |inner| {
            Box::pin(async move {
                let id = id.to_string();
                inner
                    .call(Method::GET, &["schemas", "ids", &id, "versions"], None)
                    .await
            })
        })
    }
}

impl Inner {
    fn schema_by_id(
        self: Arc<Self>,
        id: u32,
        depth: usize,
    ) -> BoxFuture<'static, Result<Arc<ResolvedSchema>, RegistryError>> {
        Box::pin(async move {
            if let Some(s) = self.by_id.lock().unwrap().get(&id) {
                return Ok(s.clone());
            }
            let id_text = id.to_string();
            let schema: Result<Schema, _> = self
                .call(Method::GET, &["schemas", "ids", &id_text], None)
                .await;
            let schema = match schema {
                Ok(s) => s,
                Err(e) => {
                    if e.is_not_found() {
                        let mut misses = self.not_found.lock().unwrap();
                        if misses.len() >= MAX_NOT_FOUND_IDS {
                            // Forget the expired ones, or else the oldest.
                            let ttl = self.config.not_found_ttl;
                            misses.retain(|_, (at, _)| at.elapsed() < ttl);
                            if misses.len() >= MAX_NOT_FOUND_IDS
                                && let Some(oldest) = misses
                                    .iter()
                                    .min_by_key(|(_, (at, _))| *at)
                                    .map(|(k, _)| *k)
                            {
                                misses.remove(&oldest);
                            }
                        }
                        misses.insert(id, (Instant::now(), e.clone()));
                    }
                    return Err(e);
                }
            };
            let references = self.clone().resolve_references(&schema, depth).await?;
            let resolved = Arc::new(ResolvedSchema {
                id: Some(id),
                schema,
                references,
            });
            self.by_id.lock().unwrap().insert(id, resolved.clone());
            Ok(resolved)
        })
    }

    fn subject_version(
        self: Arc<Self>,
        subject: &str,
        version: Version,
        depth: usize,
    ) -> BoxFuture<'static, Result<(SubjectVersion, Arc<ResolvedSchema>), RegistryError>> {
        let subject = subject.to_string();
        Box::pin(async move {
            if let Version::Number(n) = version
                && let Some(hit) = self.by_version.lock().unwrap().get(&(subject.clone(), n))
            {
                return Ok(hit.clone());
            }
            let v = version.to_string();
            let sv: SubjectVersion = self
                .call(Method::GET, &["subjects", &subject, "versions", &v], None)
                .await?;
            let cached = self.by_id.lock().unwrap().get(&sv.id).cloned();
            let resolved = match cached {
                Some(r) => r,
                None => {
                    let schema = sv.to_schema();
                    let references = self.clone().resolve_references(&schema, depth).await?;
                    let r = Arc::new(ResolvedSchema {
                        id: Some(sv.id),
                        schema,
                        references,
                    });
                    self.by_id.lock().unwrap().insert(sv.id, r.clone());
                    r
                }
            };
            self.by_version
                .lock()
                .unwrap()
                .insert((subject, sv.version), (sv.clone(), resolved.clone()));
            Ok((sv, resolved))
        })
    }

    async fn resolve_references(
        self: Arc<Self>,
        schema: &Schema,
        depth: usize,
    ) -> Result<Vec<ResolvedReference>, RegistryError> {
        if schema.references.is_empty() {
            return Ok(Vec::new());
        }
        if depth >= MAX_REFERENCE_DEPTH {
            return Err(RegistryError::References(format!(
                "references nest deeper than {MAX_REFERENCE_DEPTH} levels (a cycle?) at `{}`",
                schema.references[0].name
            )));
        }
        let mut out = Vec::with_capacity(schema.references.len());
        for r in &schema.references {
            let (_, resolved) = self
                .clone()
                .subject_version(&r.subject, Version::Number(r.version), depth + 1)
                .await
                .map_err(|e| match e {
                    RegistryError::Api { .. } | RegistryError::InvalidResponse { .. } => {
                        RegistryError::References(format!(
                            "reference `{}` (subject `{}` version {}): {e}",
                            r.name, r.subject, r.version
                        ))
                    }
                    other => other,
                })?;
            out.push(ResolvedReference {
                reference: r.clone(),
                resolved,
            });
        }
        Ok(out)
    }

    /// One request with retries and backoff, over every configured URL.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<serde_json::Value>,
    ) -> Result<T, RegistryError> {
        let request = format!("{method} /{}", segments.join("/"));
        let mut delay = self.config.initial_backoff;
        let mut attempts = 0;
        loop {
            let mut last_failure = String::new();
            for base in &self.urls {
                attempts += 1;
                let mut url = base.clone();
                match url.path_segments_mut() {
                    Ok(mut path) => {
                        path.pop_if_empty().extend(segments);
                    }
                    Err(()) => {
                        return Err(RegistryError::Config(redact_credentials(&format!(
                            "registry URL `{base}` cannot have a path"
                        ))));
                    }
                }
                let mut req = self
                    .http
                    .request(method.clone(), url)
                    .header(reqwest::header::ACCEPT, CONTENT_TYPE);
                if let Some((user, password)) = &self.config.basic_auth {
                    req = req.basic_auth(user, Some(password));
                }
                if let Some(token) = &self.config.bearer_token {
                    req = req.bearer_auth(token);
                }
                if let Some(body) = &body {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                        .body(body.to_string());
                }
                self.calls.fetch_add(1, Ordering::Relaxed);
                match req.send().await {
                    Ok(resp) if resp.status().is_success() => {
                        let bytes = match read_capped(resp).await {
                            Ok(bytes) => bytes,
                            Err(BodyError::Transport(reason)) => {
                                last_failure = redact_credentials(&format!("{base}: {reason}"));
                                continue;
                            }
                            Err(BodyError::TooLarge(reason)) => {
                                return Err(RegistryError::InvalidResponse {
                                    request: request.clone(),
                                    reason,
                                });
                            }
                        };
                        return serde_json::from_slice(&bytes).map_err(|e| {
                            RegistryError::InvalidResponse {
                                request: request.clone(),
                                reason: format!("{e} in {}", String::from_utf8_lossy(&bytes)),
                            }
                        });
                    }
                    Ok(resp) => {
                        let status = resp.status();
                        let text = read_capped(resp)
                            .await
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .unwrap_or_else(BodyError::into_reason);
                        let (error_code, message) = match serde_json::from_str::<ErrorBody>(&text) {
                            Ok(b) => (b.error_code, b.message),
                            Err(_) => (u32::from(status.as_u16()), text),
                        };
                        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                            last_failure =
                                redact_credentials(&format!("{base}: HTTP {status}: {message}"));
                            continue;
                        }
                        return Err(RegistryError::Api {
                            request,
                            status: status.as_u16(),
                            error_code,
                            message,
                        });
                    }
                    Err(e) => {
                        last_failure = redact_credentials(&format!("{base}: {}", error_chain(&e)));
                        tracing::debug!(%request, failure = %last_failure, "schema registry request failed");
                    }
                }
            }
            if attempts > self.config.max_retries as usize * self.urls.len() {
                return Err(RegistryError::Unreachable {
                    url: redact_credentials(&self.config.urls.join(",")),
                    attempts: attempts as u32,
                    reason: last_failure,
                });
            }
            tracing::warn!(%request, failure = %last_failure, retry_in = ?delay, "schema registry unreachable; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.config.max_backoff);
        }
    }
}

/// Most bytes of a registry response that are read: a schema, even with
/// many references, is far smaller; a larger body (a registry gone wrong,
/// or something posing as one) is refused rather than buffered.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// Unknown schema ids remembered at most ([`ClientConfig::not_found_ttl`]):
/// messages naming random ids cannot grow the client's memory without bound.
pub const MAX_NOT_FOUND_IDS: usize = 4096;

/// Whether a request to `url` would carry credentials (basic auth, a bearer
/// token, or `user:pass@` in the URL) unencrypted to another machine.
fn sends_credentials_in_clear(url: &Url, config: &ClientConfig) -> bool {
    let credentials = config.basic_auth.is_some()
        || config.bearer_token.is_some()
        || !url.username().is_empty()
        || url.password().is_some();
    let host = url.host_str().unwrap_or_default();
    let loopback = match host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    url.scheme() == "http" && credentials && !loopback
}

/// The body of `resp`, or why it was not read (too large, or cut off).
async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if let Some(len) = resp.content_length()
        && len > MAX_RESPONSE_BYTES as u64
    {
        return Err(BodyError::TooLarge(format!(
            "the response is {len} bytes, more than the {MAX_RESPONSE_BYTES} a schema may take"
        )));
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| BodyError::Transport(error_chain(&e)))?
    {
        if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(BodyError::TooLarge(format!(
                "the response passes {MAX_RESPONSE_BYTES} bytes, more than a schema may take"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Why a response body could not be read.
enum BodyError {
    /// Larger than [`MAX_RESPONSE_BYTES`]: the registry's answer is refused.
    TooLarge(String),
    /// The connection failed or timed out while reading: retried, as a
    /// failed request is.
    Transport(String),
}

impl BodyError {
    fn into_reason(self) -> String {
        match self {
            BodyError::TooLarge(reason) | BodyError::Transport(reason) => reason,
        }
    }
}

/// An error and its sources, e.g. `error sending request: client error (Connect): Connection refused`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}
