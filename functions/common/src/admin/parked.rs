//! Parked messages of a tenant: list, show, replay after fixing the configuration.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};
use ucc_shared::contract;
use ucc_shared::delivery::intake;
use ucc_shared::gln::Gln;
use ucc_shared::keys;
use ucc_shared::parked::{self, MessageKind, ParkedMessage};

use super::errors::{ApiError, ApiResult};
use super::{paging, query_params, AdminState};

/// A parked id of this tenant (`<gln>-<16 hex>`), else 404 without touching the store: an
/// id of another scope is not this tenant's to see.
fn own_id(gln: &Gln, id: &str) -> ApiResult<()> {
    match id.split_once('-') {
        Some((scope, rest))
            if scope == gln.as_str()
                && rest.len() == 16
                && rest.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(())
        }
        _ => Err(ApiError::not_found("no parked message with this id")),
    }
}

async fn load(s: &AdminState, gln: &Gln, id: &str) -> ApiResult<ParkedMessage> {
    own_id(gln, id)?;
    parked::get(s.d.ctx.store.as_ref(), id)
        .await?
        .filter(|p| p.tenant.as_ref() == Some(gln))
        .ok_or_else(|| ApiError::not_found("no parked message with this id"))
}

pub async fn list(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let a = super::path_tenant(&s, &headers, path).await?;
    let p = query_params(query, &["limit", "cursor"])?;
    let (limit, cursor) = paging::request(&p, 50, 200)?;
    let lower = cursor.clone().unwrap_or_else(|| format!("{}-", a.gln));
    let (items, next) = paging::scan(
        s.d.ctx.store.as_ref(),
        keys::tenant(&a.gln, keys::PARKED),
        lower,
        format!("{}-~", a.gln),
        cursor.as_deref(),
        limit,
        |item| serde_json::from_str::<ParkedMessage>(&item.doc).ok(),
    )
    .await?;
    Ok(Json(json!({ "items": items, "next": next })))
}

pub async fn show(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<ParkedMessage>> {
    let (a, id) = super::tenant_and_id(&s, &headers, path).await?;
    Ok(Json(load(&s, &a.gln, &id).await?))
}

pub async fn replay(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (a, id) = super::tenant_and_id(&s, &headers, path).await?;
    let p = load(&s, &a.gln, &id).await?;
    let result = match p.kind {
        MessageKind::Contract => match contract::replay(&s.d.ctx, &id).await {
            Ok(Ok(h)) => serde_json::to_value(&h),
            Ok(Err(why)) => return Err(ApiError::conflict(why)),
            Err(e) => {
                tracing::warn!(error = %e, "parked replay failed");
                return Err(ApiError::unavailable());
            }
        },
        MessageKind::Session => match intake::replay(&s.d, &p).await {
            Ok(Ok(h)) => serde_json::to_value(&h),
            Ok(Err(why)) => return Err(ApiError::conflict(why)),
            Err(e) => return Err(e.into()),
        },
    };
    result.map(Json).map_err(|_| ApiError::internal())
}
