//! An embedded, Confluent-compatible Schema Registry (axum), in memory and
//! optionally persisted to a JSON file.
//!
//! It serves what producers and consumers use: registering and looking up
//! schemas, by id and by subject version, listing subjects and versions.
//! Bodies are `application/vnd.schemaregistry.v1+json`, and errors look like
//! Confluent's: `{"error_code": 40401, "message": "Subject 'x' not found."}`.
//!
//! It is a server, used by `topictable registry`, `topictable demo` and the
//! tests; the codecs only ever talk to a registry through
//! `topictable-schema-registry`'s client.
//!
//! ```no_run
//! let registry = topictable_registry_server::spawn("127.0.0.1:0")?;
//! println!("registry at {}", registry.url());
//! # Ok::<(), topictable_registry_server::ServerError>(())
//! ```

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use topictable_schema_registry::model::{
    CONTENT_TYPE, ErrorBody, Schema, SchemaType, SubjectAndVersion, SubjectVersion, error_codes,
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The persistence file could not be read or parsed.
    #[error("registry file {path}: {reason}")]
    Persistence {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The runtime could not start.
    #[error("cannot start the registry runtime: {0}")]
    Runtime(std::io::Error),
}

/// What the registry holds; this is also the persistence file's format.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Store {
    /// Schema `id` is at index `id - 1`.
    schemas: Vec<Schema>,
    /// Per subject, the schema id of each version (version `v` at index `v - 1`).
    subjects: BTreeMap<String, Vec<u32>>,
}

impl Store {
    fn schema(&self, id: u32) -> Option<&Schema> {
        self.schemas.get((id as usize).checked_sub(1)?)
    }

    /// The id of a schema equal to `schema`, if registered under any subject.
    fn find(&self, schema: &Schema) -> Option<u32> {
        let wanted = Normalized::of(schema);
        self.schemas
            .iter()
            .position(|s| Normalized::of(s) == wanted)
            .map(|i| i as u32 + 1)
    }
}

/// Schemas compare equal when their types and references match and, for
/// Avro and JSON, their texts are the same JSON (whitespace ignored).
#[derive(PartialEq)]
struct Normalized<'a> {
    kind: SchemaType,
    refs: &'a [topictable_schema_registry::model::SchemaReference],
    json: Option<serde_json::Value>,
    text: &'a str,
}

impl<'a> Normalized<'a> {
    fn of(s: &'a Schema) -> Self {
        let json = match s.schema_type {
            SchemaType::Protobuf => None,
            _ => serde_json::from_str(&s.schema).ok(),
        };
        Self {
            kind: s.schema_type,
            refs: &s.references,
            text: if json.is_some() {
                ""
            } else {
                s.schema.as_str()
            },
            json,
        }
    }
}

/// Caps on what clients can store, so that no client can exhaust the
/// registry's memory or disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryLimits {
    /// Distinct schemas (ids) held; registering one more is refused.
    pub max_schemas: usize,
    /// Bytes of one schema's text.
    pub max_schema_bytes: usize,
}

impl Default for RegistryLimits {
    /// 10,000 schemas of up to 1 MiB each.
    fn default() -> Self {
        Self {
            max_schemas: 10_000,
            max_schema_bytes: 1 << 20,
        }
    }
}

struct Shared {
    store: RwLock<Store>,
    persist: Option<PathBuf>,
    limits: RegistryLimits,
    /// When set, every request needs `Authorization: Bearer <token>`.
    token: Option<String>,
}

/// A registry, ready to serve; see [`RegistryServer::spawn`] and [`RegistryServer::router`].
#[derive(Clone)]
pub struct RegistryServer {
    shared: Arc<Shared>,
}

impl Default for RegistryServer {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl RegistryServer {
    /// An empty registry held in memory only.
    pub fn in_memory() -> Self {
        Self {
            shared: Arc::new(Shared {
                store: RwLock::default(),
                persist: None,
                limits: RegistryLimits::default(),
                token: None,
            }),
        }
    }

    /// A registry saved to `path` after every change, starting from the file's
    /// content when it exists.
    pub fn persistent(path: impl AsRef<Path>) -> Result<Self, ServerError> {
        let path = path.as_ref().to_path_buf();
        let store = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ServerError::Persistence {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Store::default(),
            Err(e) => {
                return Err(ServerError::Persistence {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        Ok(Self {
            shared: Arc::new(Shared {
                store: RwLock::new(store),
                persist: Some(path),
                limits: RegistryLimits::default(),
                token: None,
            }),
        })
    }

    /// This registry with other limits. Call it before cloning or serving:
    /// the result holds a copy of the schemas, apart from earlier clones.
    pub fn with_limits(self, limits: RegistryLimits) -> Self {
        self.rebuilt(|shared| shared.limits = limits)
    }

    /// This registry asking every request for `Authorization: Bearer
    /// <token>` (401 otherwise), or for nothing with `None`. Call it before
    /// cloning or serving, as [`RegistryServer::with_limits`].
    pub fn with_token(self, token: Option<String>) -> Self {
        self.rebuilt(|shared| shared.token = token)
    }

    fn rebuilt(self, change: impl FnOnce(&mut Shared)) -> Self {
        let store = self
            .shared
            .store
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut shared = Shared {
            store: RwLock::new(store),
            persist: self.shared.persist.clone(),
            limits: self.shared.limits,
            token: self.shared.token.clone(),
        };
        change(&mut shared);
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The routes, for embedding in a caller's own axum server or runtime.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(root))
            .route("/subjects", get(list_subjects))
            .route("/subjects/{subject}", axum::routing::post(lookup))
            .route(
                "/subjects/{subject}/versions",
                get(list_versions).post(register),
            )
            .route("/subjects/{subject}/versions/{version}", get(get_version))
            .route("/schemas/ids/{id}", get(get_schema))
            .route("/schemas/ids/{id}/schema", get(get_schema_text))
            .route("/schemas/ids/{id}/versions", get(id_versions))
            .route("/schemas/ids/{id}/subjects", get(id_subjects))
            .route("/schemas/types", get(schema_types))
            .route("/config", get(config).put(put_config))
            .fallback(not_found)
            // A JSON string can take twice its text's bytes (escapes), plus the envelope.
            .layer(DefaultBodyLimit::max(
                self.shared.limits.max_schema_bytes * 2 + 64 * 1024,
            ))
            .layer(axum::middleware::from_fn_with_state(
                self.shared.clone(),
                require_token,
            ))
            .with_state(self.shared.clone())
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Serves on `addr` (port 0 picks a free one) from a background thread
    /// with its own runtime; dropping the handle stops it.
    pub fn spawn(self, addr: impl ToSocketAddrs) -> Result<RegistryHandle, ServerError> {
        let listener = std::net::TcpListener::bind(&addr).map_err(|source| ServerError::Bind {
            addr: addr
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .map(|a| a.to_string())
                .unwrap_or_else(|| "the given address".into()),
            source,
        })?;
        let local = listener.local_addr().map_err(ServerError::Runtime)?;
        listener
            .set_nonblocking(true)
            .map_err(ServerError::Runtime)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(ServerError::Runtime)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("schema-registry".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            if let Err(e) = self
                                .serve(listener, async {
                                    let _ = stopped.await;
                                })
                                .await
                            {
                                tracing::error!("schema registry stopped: {e}");
                            }
                        }
                        Err(e) => tracing::error!("schema registry cannot listen: {e}"),
                    }
                });
            })
            .map_err(ServerError::Runtime)?;
        Ok(RegistryHandle {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// Starts an in-memory registry on `addr` (e.g. `127.0.0.1:0`) in the background.
pub fn spawn(addr: impl ToSocketAddrs) -> Result<RegistryHandle, ServerError> {
    RegistryServer::in_memory().spawn(addr)
}

/// A running registry; dropping it (or [`RegistryHandle::shutdown`]) stops it.
#[derive(Debug)]
pub struct RegistryHandle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RegistryHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for it.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RegistryHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

type Db = State<Arc<Shared>>;

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    (status, [(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

fn ok<T: Serialize>(body: &T) -> Response {
    json(StatusCode::OK, body)
}

fn error(status: StatusCode, error_code: u32, message: impl Into<String>) -> Response {
    json(
        status,
        &ErrorBody {
            error_code,
            message: message.into(),
        },
    )
}

fn subject_not_found(subject: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        error_codes::SUBJECT_NOT_FOUND,
        format!("Subject '{subject}' not found."),
    )
}

fn schema_not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        error_codes::SCHEMA_NOT_FOUND,
        format!("Schema {id} not found"),
    )
}

/// With a token set, answers 401 (as Confluent's registry does) to a request
/// without it, before any handler runs.
async fn require_token(State(s): Db, request: Request, next: Next) -> Response {
    let Some(token) = &s.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if bool::from(given.as_bytes().ct_eq(token.as_bytes())) => {
            next.run(request).await
        }
        _ => error(
            StatusCode::UNAUTHORIZED,
            401,
            "Unauthorized: send `Authorization: Bearer TOKEN` (the registry's --token)",
        ),
    }
}

async fn root() -> Response {
    ok(&serde_json::json!({}))
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found")
}

async fn schema_types() -> Response {
    ok(&["AVRO", "PROTOBUF", "JSON"])
}

async fn config() -> Response {
    ok(&serde_json::json!({"compatibilityLevel": "BACKWARD"}))
}

async fn put_config(body: Bytes) -> Response {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) => ok(&v),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, 42203, e.to_string()),
    }
}

async fn list_subjects(State(s): Db) -> Response {
    let store = s.store.read().unwrap();
    ok(&store.subjects.keys().collect::<Vec<_>>())
}

async fn list_versions(State(s): Db, UrlPath(subject): UrlPath<String>) -> Response {
    let store = s.store.read().unwrap();
    match store.subjects.get(&subject) {
        Some(ids) => ok(&(1..=ids.len() as i32).collect::<Vec<_>>()),
        None => subject_not_found(&subject),
    }
}

fn subject_version(store: &Store, subject: &str, version: i32) -> SubjectVersion {
    let id = store.subjects[subject][version as usize - 1];
    let schema = store
        .schema(id)
        .expect("every subject version names a stored schema");
    SubjectVersion {
        subject: subject.to_string(),
        id,
        version,
        schema: schema.schema.clone(),
        schema_type: schema.schema_type,
        references: schema.references.clone(),
    }
}

async fn get_version(
    State(s): Db,
    UrlPath((subject, version)): UrlPath<(String, String)>,
) -> Response {
    let store = s.store.read().unwrap();
    let Some(ids) = store.subjects.get(&subject) else {
        return subject_not_found(&subject);
    };
    let number = match version.as_str() {
        "latest" | "-1" => ids.len() as i32,
        v => match v.parse::<i32>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    error_codes::INVALID_VERSION,
                    format!(
                        "The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
                    ),
                );
            }
        },
    };
    if number < 1 || number as usize > ids.len() {
        return error(
            StatusCode::NOT_FOUND,
            error_codes::VERSION_NOT_FOUND,
            format!("Version {version} not found."),
        );
    }
    ok(&subject_version(&store, &subject, number))
}

fn parse_id(id: &str) -> Option<u32> {
    id.parse().ok()
}

async fn get_schema(State(s): Db, UrlPath(id): UrlPath<String>) -> Response {
    let store = s.store.read().unwrap();
    match parse_id(&id).and_then(|n| store.schema(n)) {
        Some(schema) => ok(schema),
        None => schema_not_found(&id),
    }
}

async fn get_schema_text(State(s): Db, UrlPath(id): UrlPath<String>) -> Response {
    let store = s.store.read().unwrap();
    match parse_id(&id).and_then(|n| store.schema(n)) {
        Some(schema) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, CONTENT_TYPE)],
            schema.schema.clone(),
        )
            .into_response(),
        None => schema_not_found(&id),
    }
}

fn registrations(store: &Store, id: u32) -> Vec<SubjectAndVersion> {
    store
        .subjects
        .iter()
        .flat_map(|(subject, ids)| {
            ids.iter()
                .enumerate()
                .filter(move |(_, i)| **i == id)
                .map(move |(v, _)| SubjectAndVersion {
                    subject: subject.clone(),
                    version: v as i32 + 1,
                })
        })
        .collect()
}

async fn id_versions(State(s): Db, UrlPath(id): UrlPath<String>) -> Response {
    let store = s.store.read().unwrap();
    match parse_id(&id).filter(|n| store.schema(*n).is_some()) {
        Some(n) => ok(&registrations(&store, n)),
        None => schema_not_found(&id),
    }
}

async fn id_subjects(State(s): Db, UrlPath(id): UrlPath<String>) -> Response {
    let store = s.store.read().unwrap();
    match parse_id(&id).filter(|n| store.schema(*n).is_some()) {
        Some(n) => {
            let mut subjects: Vec<String> = registrations(&store, n)
                .into_iter()
                .map(|r| r.subject)
                .collect();
            subjects.dedup();
            ok(&subjects)
        }
        None => schema_not_found(&id),
    }
}

/// Parses and checks a schema body; the error is a ready response.
fn parse_body(store: &Store, body: &[u8]) -> Result<Schema, Box<Response>> {
    let schema: Schema = serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            error_codes::INVALID_SCHEMA,
            format!("Invalid schema: {e}"),
        ))
    })?;
    if schema.schema_type != SchemaType::Protobuf
        && let Err(e) = serde_json::from_str::<serde_json::Value>(&schema.schema)
    {
        return Err(Box::new(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            error_codes::INVALID_SCHEMA,
            format!(
                "Invalid schema: {} text is not JSON: {e}",
                schema.schema_type
            ),
        )));
    }
    for r in &schema.references {
        let known = store
            .subjects
            .get(&r.subject)
            .is_some_and(|ids| r.version >= 1 && r.version as usize <= ids.len());
        if !known {
            return Err(Box::new(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                error_codes::INVALID_SCHEMA,
                format!(
                    "Invalid schema: reference `{}` names subject '{}' version {}, which is not registered",
                    r.name, r.subject, r.version
                ),
            )));
        }
    }
    Ok(schema)
}

/// Registers a schema under a subject. With a persistence file, the change
/// is on disk (synced) before the id is answered, and a change that could
/// not be saved is undone in memory too, so an id is never answered that a
/// restart would forget and give to another schema.
async fn register(State(s): Db, UrlPath(subject): UrlPath<String>, body: Bytes) -> Response {
    let mut store = s.store.write().unwrap_or_else(PoisonError::into_inner);
    let schema = match parse_body(&store, &body) {
        Ok(schema) => schema,
        Err(response) => return *response,
    };
    if schema.schema.len() > s.limits.max_schema_bytes {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            error_codes::INVALID_SCHEMA,
            format!(
                "Invalid schema: {} bytes, more than this registry takes ({})",
                schema.schema.len(),
                s.limits.max_schema_bytes
            ),
        );
    }
    let (id, new_schema) = match store.find(&schema) {
        Some(id) => (id, false),
        None if store.schemas.len() >= s.limits.max_schemas => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                error_codes::INVALID_SCHEMA,
                format!(
                    "Invalid schema: the registry holds {} schemas, as many as it takes",
                    store.schemas.len()
                ),
            );
        }
        None => {
            store.schemas.push(schema);
            (store.schemas.len() as u32, true)
        }
    };
    let new_subject = !store.subjects.contains_key(&subject);
    let versions = store.subjects.entry(subject.clone()).or_default();
    if versions.contains(&id) {
        return ok(&serde_json::json!({ "id": id }));
    }
    versions.push(id);
    if let Some(path) = &s.persist
        && let Err(e) = save(&store, path)
    {
        match new_subject {
            true => drop(store.subjects.remove(&subject)),
            false => drop(store.subjects.get_mut(&subject).and_then(Vec::pop)),
        }
        if new_schema {
            store.schemas.pop();
        }
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_codes::STORE_ERROR,
            format!("Error while storing the schema: {e}"),
        );
    }
    ok(&serde_json::json!({ "id": id }))
}

async fn lookup(State(s): Db, UrlPath(subject): UrlPath<String>, body: Bytes) -> Response {
    let store = s.store.read().unwrap();
    let schema = match parse_body(&store, &body) {
        Ok(schema) => schema,
        Err(response) => return *response,
    };
    let Some(ids) = store.subjects.get(&subject) else {
        return subject_not_found(&subject);
    };
    match store
        .find(&schema)
        .and_then(|id| ids.iter().position(|i| *i == id))
    {
        Some(v) => ok(&subject_version(&store, &subject, v as i32 + 1)),
        None => error(
            StatusCode::NOT_FOUND,
            error_codes::SCHEMA_NOT_FOUND,
            "Schema not found",
        ),
    }
}

/// Writes `store` to `path` durably: a synced temporary file renamed over
/// it, then the directory synced so the rename survives a power cut.
fn save(store: &Store, path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&serde_json::to_vec_pretty(store)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}
