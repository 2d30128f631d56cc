//! Azure Functions custom handler: the host POSTs an invocation per trigger to
//! `/<function-name>`; we answer `{"Outputs":{},"Logs":[],"ReturnValue":…}`. Any non-2xx
//! answer makes the host abandon the Service Bus message, which is how "retry" is expressed.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Map, Value};
use ucc_shared::contract::{self, InboundMessage};
use ucc_shared::delivery::{intake, reconcile, sweep, Deliverer};

/// The binding name our function.json gives the Service Bus trigger.
pub const BINDING: &str = "message";

/// Metadata keys kept with a message (scalars arrive JSON-encoded: strings quoted twice).
const KEPT_METADATA: [&str; 6] = [
    "MessageId",
    "DeliveryCount",
    "EnqueuedTimeUtc",
    "CorrelationId",
    "UserProperties",
    "ApplicationProperties",
];

/// Decodes a host invocation into the message it carries. A body without `Data` is taken
/// as the message itself, which lets operators post events by hand.
pub fn decode_invocation(raw: &[u8]) -> InboundMessage {
    let Ok(Value::Object(mut top)) = serde_json::from_slice::<Value>(raw) else {
        return InboundMessage::from_body(raw.to_vec());
    };
    let Some(Value::Object(mut data)) = top.remove("Data") else {
        return InboundMessage::from_body(raw.to_vec());
    };
    let value = data
        .remove(BINDING)
        .or_else(|| data.into_iter().next().map(|(_, v)| v))
        .unwrap_or(Value::Null);
    let body = body_bytes(value);
    let metadata = match top.remove("Metadata") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut properties = Map::new();
    for k in KEPT_METADATA {
        if let Some(v) = metadata.get(k) {
            properties.insert(k.to_owned(), decode_scalar(v));
        }
    }
    let message_id = properties
        .get("MessageId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    InboundMessage {
        body,
        properties: Value::Object(properties),
        message_id,
    }
}

/// The message body: a JSON string holding the text, an object, or base64 of the bytes.
fn body_bytes(v: Value) -> Vec<u8> {
    match v {
        Value::String(s) => {
            if serde_json::from_str::<serde::de::IgnoredAny>(&s).is_ok() {
                return s.into_bytes();
            }
            match base64::engine::general_purpose::STANDARD.decode(s.trim()) {
                Ok(bytes) if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() => {
                    bytes
                }
                _ => s.into_bytes(),
            }
        }
        other => serde_json::to_vec(&other).unwrap_or_default(),
    }
}

/// `"\"abc\""` → `"abc"`, `"1"` → `1`; objects have their values decoded one level down.
fn decode_scalar(v: &Value) -> Value {
    match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), decode_scalar(v)))
                    .collect(),
            ),
            Ok(inner) => inner,
            Err(_) => v.clone(),
        },
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), decode_scalar(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn answer(status: StatusCode, logs: Vec<String>, ret: Value) -> Response {
    (
        status,
        Json(json!({ "Outputs": {}, "Logs": logs, "ReturnValue": ret })),
    )
        .into_response()
}

/// Maps a message handler's result to the host's answer: done (2xx, the message is
/// completed, even when parked) or retry (non-2xx, the host abandons and redelivers).
fn message_answer<T: serde::Serialize>(
    result: Result<T, impl std::fmt::Display>,
    summary: impl Fn(&T) -> String,
) -> Response {
    match result {
        Ok(handled) => answer(
            StatusCode::OK,
            vec![summary(&handled)],
            serde_json::to_value(&handled).unwrap_or(Value::Null),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "message will be redelivered");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                vec![format!("retry: {e}")],
                Value::Null,
            )
        }
    }
}

async fn contract_events(State(d): State<Arc<Deliverer>>, body: Bytes) -> Response {
    let msg = decode_invocation(&body);
    message_answer(contract::handle(&d.ctx, &msg).await, |h| {
        format!(
            "{}: {}",
            h.outcome.name(),
            h.outcome.reason().unwrap_or_default()
        )
    })
}

async fn session_completed(State(d): State<Arc<Deliverer>>, body: Bytes) -> Response {
    let msg = decode_invocation(&body);
    message_answer(intake::handle(&d, &msg).await, |h| {
        format!(
            "{}: {}",
            h.outcome.name(),
            h.outcome.reason().unwrap_or_default()
        )
    })
}

/// Timer trigger: the invocation body only carries schedule metadata.
async fn delivery_retry(State(d): State<Arc<Deliverer>>) -> Response {
    match sweep::sweep(&d).await {
        Ok(report) => {
            let value = serde_json::to_value(&report).unwrap_or(Value::Null);
            crate::telemetry::log_sweep(&d, &value).await;
            answer(
                StatusCode::OK,
                vec![format!(
                    "due {}, delivered {}, pending {}, rejected {}",
                    report.due, report.delivered, report.pending, report.rejected
                )],
                value,
            )
        }
        Err(e) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            vec![format!("delivery-retry failed: {e}")],
            Value::Null,
        ),
    }
}

async fn reconciliation(State(d): State<Arc<Deliverer>>) -> Response {
    match reconcile::run_all(&d.ctx).await {
        Ok(report) => answer(
            StatusCode::OK,
            vec![format!(
                "{} open reconciliation entries",
                report.open_entries
            )],
            serde_json::to_value(&report).unwrap_or(Value::Null),
        ),
        Err(e) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            vec![format!("reconciliation failed: {e}")],
            Value::Null,
        ),
    }
}

/// Timer trigger: physically removes expired items where the store has no TTL of its own
/// (Azure Tables); elsewhere it has nothing to do.
async fn store_sweep(State(d): State<Arc<Deliverer>>) -> Response {
    match d
        .ctx
        .store
        .sweep_expired(crate::telemetry::STORE_SWEEP_MAX)
        .await
    {
        Ok(removed) => {
            tracing::info!(removed, "store-sweep");
            answer(
                StatusCode::OK,
                vec![format!("{removed} expired items removed")],
                serde_json::json!({ "removed": removed }),
            )
        }
        Err(e) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            vec![format!("store-sweep failed: {e}")],
            Value::Null,
        ),
    }
}

/// Timer trigger (SPEC §13): tomorrow's day-ahead prices and the ECB rates. A missing
/// `UCC_ENTSOE_TOKEN_REF` or an unreadable store answers non-2xx (the host counts a failed
/// run); an incomplete day is in the report and, from 18:00 CET, an alarm log line.
async fn spot_prices(State(d): State<Arc<Deliverer>>) -> Response {
    let cfg = ucc_shared::spot::fetch::FetchConfig::from_env();
    match ucc_shared::spot::fetch::run(&d.ctx, &cfg).await {
        Ok(report) => answer(
            StatusCode::OK,
            vec![format!(
                "spot-prices: complete {:?}, incomplete {:?}, alarm {}",
                report.complete, report.incomplete, report.alarm
            )],
            serde_json::to_value(&report).unwrap_or(Value::Null),
        ),
        Err(e) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            vec![format!("spot-prices failed: {e}")],
            Value::Null,
        ),
    }
}

/// Routes of the function triggers. The admin API is merged in by the caller.
pub fn router(d: Arc<Deliverer>) -> Router {
    Router::new()
        .route("/contract-events", post(contract_events))
        .route("/session-completed", post(session_completed))
        .route("/delivery-retry", post(delivery_retry))
        .route("/reconciliation", post(reconciliation))
        .route("/store-sweep", post(store_sweep))
        .route("/spot-prices", post(spot_prices))
        .with_state(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_object_and_base64_bodies_decode_to_the_same_bytes() {
        let event = r#"{"Header":{"EventID":"x"}}"#;
        let b64 = base64::engine::general_purpose::STANDARD.encode(event);
        for data in [
            json!(event),
            serde_json::from_str::<Value>(event).unwrap_or_default(),
            json!(b64),
        ] {
            let inv = json!({"Data": {"message": data}, "Metadata": {"MessageId": "\"m-1\"", "DeliveryCount": "2"}});
            let msg = decode_invocation(inv.to_string().as_bytes());
            let got: Value = serde_json::from_slice(&msg.body).unwrap_or_default();
            assert_eq!(
                got,
                serde_json::from_str::<Value>(event).unwrap_or_default()
            );
            assert_eq!(msg.message_id.as_deref(), Some("m-1"));
            assert_eq!(msg.properties["DeliveryCount"], json!(2));
        }
    }

    #[test]
    fn user_properties_are_decoded() {
        let inv = json!({"Data": {"message": "{}"}, "Metadata": {"UserProperties": {"ServiceType": "\"ChargingAgreement\""}}});
        let msg = decode_invocation(inv.to_string().as_bytes());
        assert_eq!(
            msg.properties["UserProperties"]["ServiceType"],
            json!("ChargingAgreement")
        );
    }
}
