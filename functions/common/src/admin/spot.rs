//! `GET /api/spot/{area}/{day}` (SPEC §13): one area's day-ahead prices for a CET/CEST
//! delivery day, as `ucc spot show --json` prints them. Market data, not a tenant's: any
//! valid key (tenant or platform) may read it; no key or a wrong one is 401.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use ucc_shared::spot::{store as spot_store, Area};

use super::errors::{ApiError, ApiResult};
use super::AdminState;

pub async fn day(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<spot_store::DayReport>> {
    super::auth::caller(&s, &headers).await?;
    let Path((area, day)) = path.map_err(|_| ApiError::not_found("no such route"))?;
    let area: Area = area
        .parse()
        .map_err(|e: ucc_shared::spot::area::UnknownArea| {
            ApiError::invalid("area", e.to_string())
        })?;
    let day =
        ucc_shared::spot::parse_delivery_day(&day).map_err(|e| ApiError::invalid("day", e))?;
    Ok(Json(
        spot_store::day_report(s.d.ctx.store.as_ref(), area, day).await?,
    ))
}
