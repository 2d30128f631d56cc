//! Drivers of a tenant: list and get by accounting point.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};
use ucc_shared::contract::driver::DriverRecord;
use ucc_shared::contract::handler::driver_key;
use ucc_shared::keys;

use super::errors::{ApiError, ApiResult};
use super::{paging, query_params, AdminState};

/// Accounting point ids are at most 18 characters by default; no pattern allows this many.
const MAX_AP: usize = 256;

pub async fn list(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let a = super::path_tenant(&s, &headers, path).await?;
    let p = query_params(query, &["limit", "cursor"])?;
    let (limit, cursor) = paging::request(&p, 50, 200)?;
    let (items, next) = paging::scan(
        s.d.ctx.store.as_ref(),
        keys::tenant(&a.gln, keys::DRIVERS),
        cursor.clone().unwrap_or_else(|| " ".into()),
        "\u{10FFFF}".into(),
        cursor.as_deref(),
        limit,
        |item| {
            serde_json::from_str::<DriverRecord>(&item.doc)
                .ok()
                .map(|r| r.operator_view())
        },
    )
    .await?;
    Ok(Json(json!({ "items": items, "next": next })))
}

pub async fn show(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (a, ap) = super::tenant_and_id(&s, &headers, path).await?;
    let missing = || ApiError::not_found("no driver with this accounting point");
    if ap.is_empty() || ap.len() > MAX_AP || ap.chars().any(char::is_control) {
        return Err(missing());
    }
    let item =
        s.d.ctx
            .store
            .get(&driver_key(&a.gln, &ap))
            .await?
            .ok_or_else(missing)?;
    let rec: DriverRecord = serde_json::from_str(&item.doc).map_err(|_| ApiError::internal())?;
    Ok(Json(rec.operator_view()))
}
