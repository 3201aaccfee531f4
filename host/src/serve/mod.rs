//! The HTTP server of `topictable run --http` and `demo --http`: the live
//! tables over REST (modelled on Kafka Connect's API, under `/api/v1`),
//! Prometheus metrics at `/metrics`, and a live web view at `/`.
//!
//! It reads the engine's published versions only, so a request never holds
//! up a cycle for longer than taking one snapshot.

mod auth;
mod error;
mod metrics;
mod openapi;
mod tables;
mod web;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use topictable_engine::Table;

use crate::ingest::IngestProbe;

pub use error::ApiError;

/// What the server shows: one pipeline's tables and its Kafka sources.
pub struct LiveTables {
    /// The pipeline's name (its file stem), a label on every metric.
    pub pipeline: String,
    /// Every table by name (sources and derived tables).
    pub tables: BTreeMap<String, Table>,
    /// The Kafka sources' consumers, by table name.
    pub sources: BTreeMap<String, IngestProbe>,
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The server's runtime or thread could not be created.
    #[error("cannot start the HTTP server: {0}")]
    Runtime(std::io::Error),
}

/// Shared by every request.
struct AppState {
    live: LiveTables,
    token: Option<String>,
}

/// A running server; dropping it stops it.
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerHandle {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/tables", get(tables::list))
        .route("/api/v1/tables/{name}", get(tables::describe))
        .route("/api/v1/tables/{name}/snapshot", get(tables::snapshot))
        .route("/metrics", get(metrics::scrape))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/", get(web::index))
        .route("/web/app.js", get(web::app_js))
        .route("/web/style.css", get(web::style_css))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .with_state(state)
}

/// Serves `live` on `addr` from a thread of its own. With `token`, every
/// request but `GET /metrics` needs `Authorization: Bearer TOKEN`.
pub fn spawn(
    addr: &str,
    live: LiveTables,
    token: Option<String>,
) -> Result<ServerHandle, ServeError> {
    let bind = |source| ServeError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = std::net::TcpListener::bind(addr).map_err(bind)?;
    listener.set_nonblocking(true).map_err(bind)?;
    let local = listener.local_addr().map_err(bind)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("http")
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let app = router(Arc::new(AppState { live, token }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => return tracing::error!("the HTTP server cannot listen: {e}"),
                };
                let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                    let _ = stopped.await;
                });
                if let Err(e) = serve.await {
                    tracing::error!("the HTTP server stopped: {e}");
                }
            });
        })
        .map_err(ServeError::Runtime)?;
    Ok(ServerHandle {
        addr: local,
        stop: Some(stop),
        thread: Some(thread),
    })
}
