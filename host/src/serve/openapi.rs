//! `GET /api/v1/openapi.json`: the API's OpenAPI document, generated from
//! the handlers' annotations (utoipa), so it cannot drift from what is served.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{error, metrics, pipelines, plugins, query, tables, updates};

/// The `--token` bearer scheme.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "topictable",
        description = "Live tables from Kafka topics: create, pause, resume, restart and delete pipelines, list tables, read snapshots, follow updates, query the tables with SQL, scrape metrics. With --token, send `Authorization: Bearer TOKEN` (not needed for /metrics)."
    ),
    paths(
        pipelines::list,
        pipelines::create,
        pipelines::definition_of,
        pipelines::replace,
        pipelines::delete,
        pipelines::status,
        pipelines::pause,
        pipelines::resume,
        pipelines::restart,
        tables::list,
        tables::describe,
        tables::snapshot,
        updates::follow,
        query::run,
        plugins::list,
        plugins::describe,
        plugins::validate,
        metrics::scrape,
        document
    ),
    components(schemas(error::ErrorBody, tables::Format, updates::UpdatesFormat)),
    modifiers(&BearerToken),
    security(("token" = []))
)]
pub(super) struct ApiDoc;

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI document of this server", content_type = "application/json"),
        (status = 401, description = "Missing or wrong token (with --token)", body = error::ErrorBody)
    )
)]
pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::{ApiDoc, OpenApi};

    #[test]
    fn every_route_is_documented() {
        let doc = ApiDoc::openapi();
        for path in [
            "/api/v1/tables",
            "/api/v1/tables/{name}",
            "/api/v1/tables/{name}/snapshot",
            "/api/v1/tables/{name}/updates",
            "/api/v1/pipelines",
            "/api/v1/pipelines/{name}",
            "/api/v1/pipelines/{name}/status",
            "/api/v1/pipelines/{name}/pause",
            "/api/v1/pipelines/{name}/resume",
            "/api/v1/pipelines/{name}/restart",
            "/api/v1/plugins",
            "/api/v1/plugins/{format}",
            "/api/v1/plugins/{format}/config/validate",
            "/metrics",
            "/api/v1/openapi.json",
        ] {
            assert!(doc.paths.paths.contains_key(path), "{path} is documented");
        }
        let snapshot =
            serde_json::to_value(&doc.paths.paths["/api/v1/tables/{name}/snapshot"]).unwrap();
        let params: Vec<&str> = snapshot["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, ["name", "format", "limit", "tail"]);
    }
}
