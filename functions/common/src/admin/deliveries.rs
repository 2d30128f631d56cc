//! Deliveries to Utility Cloud: list by state, show one, retry a rejected one, credit a
//! delivered one.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use ucc_shared::delivery::credit::{self, CreditError};
use ucc_shared::delivery::record::{DeliveryRecord, DeliveryState, TRANSACTIONS};
use ucc_shared::delivery::redrive::{self, RedriveError};
use ucc_shared::delivery::Deliverer;
use ucc_shared::gln::Gln;
use ucc_shared::keys;

use super::errors::{ApiError, ApiResult};
use super::{body_bytes, paging, parse_json, query_params, AdminState};

/// Transaction ids are UC's references; anything longer is not one.
const MAX_ID: usize = 128;
const MAX_REASON: usize = 1000;

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_ID && !id.chars().any(char::is_control)
}

fn credit_error(e: CreditError) -> ApiError {
    match e {
        CreditError::NotFound(_) => ApiError::not_found("no such transaction in this tenant"),
        CreditError::Store(e) => e.into(),
        CreditError::Ambiguous { .. } => ApiError::internal(),
        other => ApiError::conflict(other.to_string()),
    }
}

pub async fn list(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let a = super::path_tenant(&s, &headers, path).await?;
    let p = query_params(query, &["state", "limit", "cursor"])?;
    let state = p
        .get("state")
        .map(|v| {
            DeliveryState::parse(v).ok_or_else(|| {
                ApiError::invalid("state", "must be pending, delivered, rejected or held")
            })
        })
        .transpose()?;
    let (limit, cursor) = paging::request(&p, 50, 200)?;
    let (items, next) = paging::scan(
        s.d.ctx.store.as_ref(),
        keys::tenant(&a.gln, TRANSACTIONS),
        cursor.clone().unwrap_or_else(|| " ".into()),
        "\u{10FFFF}".into(),
        cursor.as_deref(),
        limit,
        |item| {
            DeliveryRecord::from_item(item)
                .ok()
                .filter(|r| state.is_none_or(|w| r.state == w))
                .map(|r| r.operator_view())
        },
    )
    .await?;
    Ok(Json(json!({ "items": items, "next": next })))
}

async fn find(d: &Deliverer, gln: &Gln, id: &str) -> ApiResult<(DeliveryRecord, u64)> {
    if !valid_id(id) {
        return Err(ApiError::not_found("no such transaction in this tenant"));
    }
    credit::find(d, Some(gln), id).await.map_err(credit_error)
}

pub async fn show(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (a, id) = super::tenant_and_id(&s, &headers, path).await?;
    let (rec, _) = find(&s.d, &a.gln, &id).await?;
    Ok(Json(rec.operator_view()))
}

/// Re-drives one delivery now (core `redrive`): a rejected or held one goes back to
/// pending first (the operator fixed the cause). Delivered ones are refused: undoing them
/// is a credit.
pub async fn retry_now(d: &Deliverer, gln: &Gln, id: &str) -> ApiResult<DeliveryRecord> {
    let (rec, version) = find(d, gln, id).await?;
    match redrive::redrive(d, rec, version).await {
        Ok(done) => Ok(done.record),
        Err(RedriveError::Store(e)) => Err(e.into()),
        Err(e @ RedriveError::AlreadyDelivered(_)) => Err(ApiError::conflict(e.to_string())),
        Err(e) => Err(ApiError::conflict(e.to_string())),
    }
}

pub async fn retry(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (a, id) = super::tenant_and_id(&s, &headers, path).await?;
    let done = retry_now(&s.d, &a.gln, &id).await?;
    Ok(Json(done.operator_view()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreditBody {
    transaction_id: String,
    #[serde(default)]
    reason: Option<String>,
}

pub async fn credit(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let a = super::path_tenant(&s, &headers, path).await?;
    let bytes = body_bytes(body)?;
    let b: CreditBody = parse_json(&bytes)?;
    if !valid_id(&b.transaction_id) {
        return Err(ApiError::invalid(
            "transactionId",
            format!("must be 1 to {MAX_ID} characters without control characters"),
        ));
    }
    if b.reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON)
    {
        return Err(ApiError::invalid(
            "reason",
            format!("must be at most {MAX_REASON} characters"),
        ));
    }
    let result = credit::credit(&s.d, Some(&a.gln), &b.transaction_id, b.reason)
        .await
        .map_err(credit_error)?;
    let v = serde_json::to_value(&result).map_err(|_| ApiError::internal())?;
    Ok((StatusCode::CREATED, Json(v)))
}
