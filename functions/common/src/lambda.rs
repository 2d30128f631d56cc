//! AWS Lambda adapters: SQS batches (answering `batchItemFailures`), a bare message body,
//! or an EventBridge schedule for the timers.

use std::future::Future;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;
use ucc_shared::contract::{self, InboundMessage};
use ucc_shared::delivery::{intake, reconcile, sweep, Deliverer};

/// When the invocation described by `ctx` is cut off, as an `Instant` (Lambda gives it in
/// milliseconds since the epoch). Handlers start no UC attempt that could outlast it.
pub fn deadline_of(ctx: &lambda_runtime::Context) -> Option<std::time::Instant> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis();
    let left = u128::from(ctx.deadline).checked_sub(now_ms)?;
    std::time::Instant::now()
        .checked_add(std::time::Duration::from_millis(u64::try_from(left).ok()?))
}

/// The Lambda error type: anything returned as `Err` makes Lambda retry the invocation.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

fn is_sqs_batch(event: &Value) -> bool {
    event
        .get("Records")
        .and_then(Value::as_array)
        .is_some_and(|r| {
            r.iter()
                .all(|x| x.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"))
        })
}

/// What a Lambda event carries: an SQS batch (each record one message, with its id for
/// `batchItemFailures`) or one bare message body. Pure, so it can be fuzzed.
pub enum Decoded {
    Batch(Vec<(String, InboundMessage)>),
    Single(InboundMessage),
}

pub fn decode(event: Value) -> Result<Decoded, serde_json::Error> {
    if is_sqs_batch(&event) {
        let batch: SqsEvent = serde_json::from_value(event)?;
        return Ok(Decoded::Batch(
            batch
                .records
                .into_iter()
                .map(|record| {
                    let msg = InboundMessage {
                        body: record.body.clone().unwrap_or_default().into_bytes(),
                        properties: serde_json::to_value(&record.message_attributes)
                            .unwrap_or(Value::Null),
                        message_id: record.message_id.clone(),
                    };
                    (record.message_id.unwrap_or_default(), msg)
                })
                .collect(),
        ));
    }
    let body = match event {
        Value::String(s) => s.into_bytes(),
        other => serde_json::to_vec(&other)?,
    };
    Ok(Decoded::Single(InboundMessage::from_body(body)))
}

/// Runs `handle` for each message; a transient failure reports just that record so only it
/// is redelivered. A bare (non-SQS) event is one message, and a failure fails the call.
async fn each_message<F, Fut, T, E>(event: Value, handle: F) -> Result<Value, Error>
where
    F: Fn(InboundMessage) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: serde::Serialize,
    E: std::fmt::Display + Into<Error>,
{
    match decode(event)? {
        Decoded::Batch(messages) => {
            let mut failures = Vec::new();
            for (id, msg) in messages {
                if let Err(e) = handle(msg).await {
                    tracing::warn!(message_id = %id, error = %e, "message will be retried");
                    failures.push(BatchItemFailure {
                        item_identifier: id,
                    });
                }
            }
            let resp = SqsBatchResponse {
                batch_item_failures: failures,
            };
            Ok(serde_json::to_value(resp)?)
        }
        Decoded::Single(msg) => {
            let handled = handle(msg).await.map_err(Into::into)?;
            Ok(serde_json::to_value(handled)?)
        }
    }
}

pub async fn contract_events(ctx: &ucc_shared::context::Ctx, event: Value) -> Result<Value, Error> {
    each_message(
        event,
        |msg| async move { contract::handle(ctx, &msg).await },
    )
    .await
}

pub async fn session_completed(d: &Deliverer, event: Value) -> Result<Value, Error> {
    each_message(event, |msg| async move { intake::handle(d, &msg).await }).await
}

/// EventBridge Scheduler invocation: the event content does not matter.
pub async fn delivery_retry(d: &Deliverer) -> Result<Value, Error> {
    Ok(serde_json::to_value(sweep::sweep(d).await?)?)
}

pub async fn reconciliation(d: &Deliverer) -> Result<Value, Error> {
    Ok(serde_json::to_value(reconcile::run_all(&d.ctx).await?)?)
}
