//! The HTTP server of `topictable serve`, and of `run --http` and
//! `demo --http`: pipelines and live tables over REST (modelled on Kafka
//! Connect's API, under `/api/v1`), Prometheus metrics at `/metrics`, and a
//! live web view at `/`.
//!
//! It reads the engines' published versions only, so a request never holds
//! up a cycle for longer than taking one snapshot, and a follower of a
//! table's updates that falls behind is skipped ahead, never waited for.

mod auth;
mod error;
mod metrics;
mod openapi;
mod pipelines;
mod plugins;
mod query;
mod tables;
mod updates;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};

use crate::worker::Worker;

pub use error::ApiError;
pub use metrics::ServeMetrics;
pub use query::CYCLES_HEADER;

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
    worker: Arc<Worker>,
    metrics: Arc<ServeMetrics>,
    token: Option<String>,
    encoded_updates: updates::EncodedUpdates,
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
        .route("/api/v1/tables/{name}/updates", get(updates::follow))
        .route("/api/v1/query", post(query::run))
        .route("/api/v1/plugins", get(plugins::list))
        .route("/api/v1/plugins/{format}", get(plugins::describe))
        .route(
            "/api/v1/plugins/{format}/config/validate",
            put(plugins::validate),
        )
        .route(
            "/api/v1/pipelines",
            get(pipelines::list).post(pipelines::create),
        )
        .route(
            "/api/v1/pipelines/{name}",
            get(pipelines::definition_of)
                .put(pipelines::replace)
                .delete(pipelines::delete),
        )
        .route("/api/v1/pipelines/{name}/status", get(pipelines::status))
        .route("/api/v1/pipelines/{name}/pause", put(pipelines::pause))
        .route("/api/v1/pipelines/{name}/resume", put(pipelines::resume))
        .route("/api/v1/pipelines/{name}/restart", post(pipelines::restart))
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

/// The whole API as an axum [`Router`] (a tower service): what [`spawn`]
/// serves, for mounting in another axum application or calling in-process.
/// The arguments are those of [`spawn`].
pub fn app(worker: Arc<Worker>, metrics: Arc<ServeMetrics>, token: Option<String>) -> Router {
    router(Arc::new(AppState {
        worker,
        metrics,
        token,
        encoded_updates: updates::EncodedUpdates::default(),
    }))
}

/// Serves `worker`'s pipelines on `addr` from a thread of its own. With
/// `token`, every request but `GET /metrics` and the page's assets needs
/// `Authorization: Bearer TOKEN`. `metrics` must be the one whose
/// [`ServeMetrics::cycle_hook`] the worker's pipelines report cycles to.
pub fn spawn(
    addr: &str,
    worker: Arc<Worker>,
    metrics: Arc<ServeMetrics>,
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
        .worker_threads(2)
        .thread_name("http")
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let app = app(worker, metrics, token);
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
