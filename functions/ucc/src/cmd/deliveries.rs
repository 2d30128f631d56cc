//! Deliveries (`ucc deliveries`), credits, corrections and revenue-share reconciliation.

use ucc_shared::delivery::record::{self, DeliveryRecord, DeliveryState};
use ucc_shared::delivery::{credit, reconcile, redrive};

use super::{deliverer, gln, CmdResult};
use crate::output::{print_json, table};

pub async fn list(store: &str, tenant: &str, state: Option<&str>, json: bool) -> CmdResult {
    let g = gln(tenant)?;
    let wanted = state
        .map(|s| {
            DeliveryState::parse(s)
                .ok_or_else(|| format!("--state {s:?}: use pending, delivered, rejected or held"))
        })
        .transpose()?;
    let d = deliverer(store).await?;
    let mut out: Vec<DeliveryRecord> = record::list_all(d.ctx.store.as_ref(), &g)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|r| wanted.is_none_or(|w| r.state == w))
        .collect();
    out.sort_by_key(|r| r.created_at);
    if json {
        return print_json(&out.iter().map(|r| r.operator_view()).collect::<Vec<_>>());
    }
    let rows: Vec<Vec<String>> = out
        .iter()
        .map(|r| {
            vec![
                r.transaction_id.clone(),
                r.state.as_str().into(),
                r.kind.action().into(),
                r.attempts.to_string(),
                r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.last_result.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "TRANSACTION",
                "STATE",
                "ENDPOINT",
                "ATTEMPTS",
                "CREATED (UTC)",
                "LAST RESULT"
            ],
            &rows
        )
    );
    Ok(())
}

/// Re-drives one delivery now: a rejected or held one goes back to pending first; a
/// re-driven credit releases the correction held behind it.
pub async fn retry(store: &str, tenant: Option<&str>, id: &str, json: bool) -> CmdResult {
    let tenant = tenant.map(gln).transpose()?;
    let d = deliverer(store).await?;
    let (rec, version) = credit::find(&d, tenant.as_ref(), id)
        .await
        .map_err(|e| e.to_string())?;
    let done = redrive::redrive(&d, rec, version)
        .await
        .map_err(|e| e.to_string())?;
    if json {
        return print_json(&done.record.operator_view());
    }
    for r in std::iter::once(&done.record).chain(done.correction.as_ref()) {
        println!(
            "{}: {} ({})",
            r.transaction_id,
            r.state.as_str(),
            r.last_result.clone().unwrap_or_default()
        );
    }
    Ok(())
}

pub async fn credit(
    store: &str,
    tenant: Option<&str>,
    id: &str,
    reason: Option<String>,
    correct: bool,
    json: bool,
) -> CmdResult {
    let tenant = tenant.map(gln).transpose()?;
    let d = deliverer(store).await?;
    let result = if correct {
        credit::correct(&d, tenant.as_ref(), id, reason).await
    } else {
        credit::credit(&d, tenant.as_ref(), id, reason).await
    }
    .map_err(|e| e.to_string())?;
    if json {
        return print_json(&result);
    }
    for h in std::iter::once(&result.credit).chain(result.correction.as_ref()) {
        println!(
            "{}: {}{}",
            h.transaction_id.clone().unwrap_or_default(),
            h.outcome.name(),
            h.outcome
                .reason()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

pub async fn reconcile(store: &str, tenant: &str, since: Option<&str>, json: bool) -> CmdResult {
    let g = gln(tenant)?;
    let since = since
        .map(|s| super::logs::parse_time(s, chrono::Utc::now()))
        .transpose()?;
    let d = deliverer(store).await?;
    let entries = reconcile::list(d.ctx.store.as_ref(), &g, since)
        .await
        .map_err(|e| e.to_string())?;
    if json {
        return print_json(&entries);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                e.transaction_id.clone(),
                e.site_id.to_string(),
                e.revenue_share_id_now
                    .map_or("-".into(), |i| format!("{i} (correct it now)")),
                e.note.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "CREATED (UTC)",
                "TRANSACTION",
                "SITE",
                "REVENUE SHARE ID NOW",
                "NOTE"
            ],
            &rows
        )
    );
    Ok(())
}
