//! AWS Lambda adapters: an SQS batch (answering `batchItemFailures`) or a bare message body.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;
use ucc_shared::context::Ctx;
use ucc_shared::contract::{self, InboundMessage};

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

/// contract-events: each SQS record is one Service Bus message body (forwarded by a bridge);
/// a transient failure reports just that record so only it is redelivered.
pub async fn contract_events(ctx: &Ctx, event: Value) -> Result<Value, Error> {
    if is_sqs_batch(&event) {
        let batch: SqsEvent = serde_json::from_value(event)?;
        let mut failures = Vec::new();
        for record in batch.records {
            let id = record.message_id.clone().unwrap_or_default();
            let msg = InboundMessage {
                body: record.body.clone().unwrap_or_default().into_bytes(),
                properties: serde_json::to_value(&record.message_attributes).unwrap_or(Value::Null),
                message_id: record.message_id.clone(),
            };
            if let Err(e) = contract::handle(ctx, &msg).await {
                tracing::warn!(message_id = %id, error = %e, "contract event will be retried");
                failures.push(BatchItemFailure {
                    item_identifier: id,
                });
            }
        }
        let resp = SqsBatchResponse {
            batch_item_failures: failures,
        };
        return Ok(serde_json::to_value(resp)?);
    }
    let body = match event {
        Value::String(s) => s.into_bytes(),
        other => serde_json::to_vec(&other)?,
    };
    let handled = contract::handle(ctx, &InboundMessage::from_body(body)).await?;
    Ok(serde_json::to_value(handled)?)
}
