//! The admin API behind the Integrations page (SPEC §7): JSON under `/api/tenants/{gln}/…`,
//! `x-api-key` auth, served by `ucc serve` and by the `admin-api` Lambda.
//!
//! Each area is a module of thin handlers over the core: `tenants` (details, create, key
//! rotation, settings), `logs`, `parked`, `deliveries` (list, retry, credits), `drivers`,
//! `migration` (SPEC §12).
//! [`ROUTES`] is the single list the router is built from; the OpenAPI document in
//! `docs/openapi.json` is tested against it.

pub mod auth;
pub mod deliveries;
pub mod drivers;
pub mod errors;
pub mod logs;
pub mod migration;
pub mod page;
pub mod paging;
pub mod parked;
pub mod spot;
pub mod tenants;

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use serde::de::DeserializeOwned;
use ucc_shared::delivery::Deliverer;

pub use auth::AdminKeys;
use errors::{ApiError, ApiResult};

/// Largest accepted request body: a tenant config with many tariffs fits; the store's item
/// limit (400 KB) is below it anyway.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

#[derive(Clone)]
pub struct AdminState {
    pub d: Arc<Deliverer>,
    pub keys: Arc<AdminKeys>,
}

/// Every route of the admin API: method and path (axum syntax, as in the OpenAPI document).
pub const ROUTES: &[(&str, &str)] = &[
    // The Integrations page (SPEC §14) and its embedded assets: `page.rs`.
    ("GET", "/"),
    ("GET", "/assets/{file}"),
    ("GET", "/api/tenants"),
    ("GET", "/api/tenants/{gln}"),
    ("PUT", "/api/tenants/{gln}"),
    ("POST", "/api/tenants/{gln}/api-key"),
    ("GET", "/api/tenants/{gln}/settings"),
    ("PUT", "/api/tenants/{gln}/settings"),
    ("GET", "/api/tenants/{gln}/logs"),
    ("GET", "/api/tenants/{gln}/parked"),
    ("GET", "/api/tenants/{gln}/parked/{id}"),
    ("POST", "/api/tenants/{gln}/parked/{id}/replay"),
    ("GET", "/api/tenants/{gln}/deliveries"),
    ("GET", "/api/tenants/{gln}/deliveries/{transactionId}"),
    (
        "POST",
        "/api/tenants/{gln}/deliveries/{transactionId}/retry",
    ),
    ("POST", "/api/tenants/{gln}/credits"),
    ("GET", "/api/tenants/{gln}/drivers"),
    ("GET", "/api/tenants/{gln}/drivers/{accountingPoint}"),
    ("GET", "/api/tenants/{gln}/migration"),
    ("PUT", "/api/tenants/{gln}/migration"),
    ("DELETE", "/api/tenants/{gln}/migration"),
    ("GET", "/api/spot/{area}/{day}"),
];

fn handler_for(method: &str, path: &str) -> Option<MethodRouter<AdminState>> {
    Some(match (method, path) {
        ("GET", "/") => get(page::index),
        ("GET", "/assets/{file}") => get(page::assets),
        ("GET", "/api/tenants") => get(tenants::list),
        ("GET", "/api/tenants/{gln}") => get(tenants::details),
        ("PUT", "/api/tenants/{gln}") => put(tenants::put_tenant),
        ("POST", "/api/tenants/{gln}/api-key") => post(tenants::rotate_key),
        ("GET", "/api/tenants/{gln}/settings") => get(tenants::get_settings),
        ("PUT", "/api/tenants/{gln}/settings") => put(tenants::put_settings),
        ("GET", "/api/tenants/{gln}/logs") => get(logs::list),
        ("GET", "/api/tenants/{gln}/parked") => get(parked::list),
        ("GET", "/api/tenants/{gln}/parked/{id}") => get(parked::show),
        ("POST", "/api/tenants/{gln}/parked/{id}/replay") => post(parked::replay),
        ("GET", "/api/tenants/{gln}/deliveries") => get(deliveries::list),
        ("GET", "/api/tenants/{gln}/deliveries/{transactionId}") => get(deliveries::show),
        ("POST", "/api/tenants/{gln}/deliveries/{transactionId}/retry") => post(deliveries::retry),
        ("POST", "/api/tenants/{gln}/credits") => post(deliveries::credit),
        ("GET", "/api/tenants/{gln}/drivers") => get(drivers::list),
        ("GET", "/api/tenants/{gln}/drivers/{accountingPoint}") => get(drivers::show),
        ("GET", "/api/tenants/{gln}/migration") => get(migration::get),
        ("PUT", "/api/tenants/{gln}/migration") => put(migration::put),
        ("DELETE", "/api/tenants/{gln}/migration") => delete(migration::delete),
        ("GET", "/api/spot/{area}/{day}") => get(spot::day),
        _ => return None,
    })
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// The admin API. `ucc serve` merges it beside the function triggers.
pub fn router(d: Arc<Deliverer>, keys: AdminKeys) -> Router {
    let mut by_path: BTreeMap<&str, MethodRouter<AdminState>> = BTreeMap::new();
    for (method, path) in ROUTES {
        // ROUTES and handler_for are side by side above; a row without a handler is a
        // programming error caught by the route tests, not something to panic on here.
        let Some(h) = handler_for(method, path) else {
            tracing::error!(method, path, "admin route without a handler");
            continue;
        };
        let merged = match by_path.remove(path) {
            Some(existing) => existing.merge(h),
            None => h,
        };
        by_path.insert(path, merged);
    }
    let mut r = Router::new();
    for (path, mr) in by_path {
        r = r.route(path, mr.fallback(method_not_allowed));
    }
    r.fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(page::security_headers))
        .with_state(AdminState {
            d,
            keys: Arc::new(keys),
        })
}

/// Path parameters, or a 404 when they cannot even be decoded (invalid UTF-8 escapes).
pub fn path_params<T>(p: Result<Path<T>, PathRejection>) -> ApiResult<T> {
    p.map(|Path(v)| v)
        .map_err(|_| ApiError::not_found("no such resource"))
}

/// The tenant named in the path, with the caller's access to it. A path that cannot be
/// decoded names no tenant: the caller is still authenticated first (401 without a key).
pub async fn path_tenant(
    s: &AdminState,
    headers: &axum::http::HeaderMap,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult<auth::Access> {
    let raw = path_params(p);
    auth::tenant(s, headers, raw.as_deref().unwrap_or("")).await
}

/// A tenant path with an item id: the caller's access to the tenant, and the id. When the
/// segments cannot be decoded the caller is still authenticated first (401 without a key),
/// then gets a 404 like any unknown item.
pub async fn tenant_and_id(
    s: &AdminState,
    headers: &axum::http::HeaderMap,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<(auth::Access, String)> {
    match p {
        Ok(Path((raw, id))) => Ok((auth::tenant(s, headers, &raw).await?, id)),
        Err(_) => {
            auth::caller(s, headers).await?;
            Err(ApiError::not_found("no such resource"))
        }
    }
}

/// Query parameters as a map; only `allowed` names are accepted, each at most once.
pub fn query_params(
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
    allowed: &[&str],
) -> ApiResult<HashMap<String, String>> {
    let Query(pairs) = q.map_err(|_| ApiError::invalid("query", "cannot be decoded"))?;
    let mut out = HashMap::new();
    for (k, v) in pairs {
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::invalid(
                "query",
                format!("unknown parameter (allowed: {})", allowed.join(", ")),
            ));
        }
        if out.insert(k.clone(), v).is_some() {
            return Err(ApiError::invalid(k, "given more than once"));
        }
    }
    Ok(out)
}

/// The request body, mapping axum's plain-text rejections to our error shape.
pub fn body_bytes(b: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(MAX_BODY_BYTES)
        } else {
            ApiError::bad_request("the body could not be read")
        }
    })
}

/// A JSON body into `T`; a type error names the field it is about.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() {
            "(body)".to_owned()
        } else {
            path
        };
        ApiError::invalid(field, e.into_inner().to_string())
    })
}
