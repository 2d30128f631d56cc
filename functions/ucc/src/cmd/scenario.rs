//! `ucc run-scenario DIR`: load tenants, replay events in file-name order, report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use ucc_shared::contract::{self, InboundMessage};
use ucc_shared::delivery::{credit, intake, reconcile};
use ucc_shared::keys;
use ucc_shared::parked;
use ucc_shared::registry;
use ucc_shared::tenant::TenantConfig;
use ucc_standins::uc::{StandIn, StandInConfig};

use super::{ctx, drivers, CmdResult};
use crate::output::{print_json, table};

#[derive(Serialize)]
struct EventReport {
    file: String,
    kind: &'static str,
    outcome: String,
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(rename = "parkedId", skip_serializing_if = "Option::is_none")]
    parked_id: Option<String>,
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

fn kind_of(bytes: &[u8]) -> &'static str {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) if v["operatorAction"] == "scheduleMigration" => "migrate",
        Ok(v) if v["operatorAction"] == "migrationReport" => "report",
        Ok(v) if v.get("operatorAction").is_some() => "credit",
        Ok(v) if v.get("Header").is_none() && v.get("transactionId").is_some() => "session",
        _ => "contract",
    }
}

/// Points every tenant at the local stand-in for this run (base URL, token URL, client id)
/// and returns the stand-in, which accepts the secret the tenants' references resolve to.
async fn start_standin(configs: &mut [TenantConfig]) -> Result<StandIn, String> {
    let first = configs.first().ok_or("no tenants in the scenario")?;
    let secret = ucc_shared::uc::secrets::resolve(&first.uc.client_secret_ref)
        .await
        .map_err(|e| {
            format!("{e} (make run sets a demo value; set it yourself when running by hand)")
        })?;
    let standin = StandIn::start(StandInConfig {
        client_secret: secret.expose().to_owned(),
        ..StandInConfig::default()
    })
    .await
    .map_err(|e| format!("cannot start the UC/Entra stand-in: {e}"))?;
    for cfg in configs.iter_mut() {
        cfg.uc.base_url = standin.base_url();
        cfg.uc.token_url = standin.token_url();
        cfg.uc.client_id = standin.client_id();
    }
    Ok(standin)
}

/// `ucc serve --uc-standin`: a fresh local UC + Entra stand-in for the tenants already in
/// the store (the demo store of `make run`), every tenant re-pointed at it. The caller keeps
/// it alive as long as it serves.
pub async fn standin_for_store(ctx: &ucc_shared::context::Ctx) -> Result<StandIn, String> {
    let store = ctx.store.as_ref();
    let mut cfgs = Vec::new();
    for t in registry::list(store).await.map_err(|e| e.to_string())? {
        if let Some(c) = registry::get(store, &t.gln)
            .await
            .map_err(|e| e.to_string())?
        {
            cfgs.push(c);
        }
    }
    let standin = start_standin(&mut cfgs).await?;
    for c in &cfgs {
        registry::put(store, c)
            .await
            .map_err(|e| format!("tenant {}: {e}", c.gln))?;
        ctx.forget_tenant(&c.gln);
    }
    Ok(standin)
}

pub async fn run(store: &str, dir: &Path, json: bool, uc_standin: bool) -> CmdResult {
    let ctx = ctx(store).await?;
    let d = ucc_functions::env::deliverer(ctx.clone())?;
    let mut configs = Vec::new();
    for file in json_files(&dir.join("tenants"))? {
        configs.push((file.clone(), super::tenant::load_config(&file)?));
    }
    let standin = if uc_standin {
        let mut cfgs: Vec<TenantConfig> = configs.iter().map(|(_, c)| c.clone()).collect();
        let s = start_standin(&mut cfgs).await?;
        for ((_, c), new) in configs.iter_mut().zip(cfgs) {
            *c = new;
        }
        Some(s)
    } else {
        None
    };
    let mut glns = Vec::new();
    for (file, cfg) in &configs {
        registry::put(ctx.store.as_ref(), cfg)
            .await
            .map_err(|e| format!("{}: {e}", file.display()))?;
        ctx.forget_tenant(&cfg.gln);
        glns.push((cfg.gln.clone(), cfg.name.clone(), cfg.mode));
    }
    let mut reports = Vec::new();
    // Migration reports printed by report steps: (step file, report).
    let mut reports_text: Vec<(String, String)> = Vec::new();
    for file in json_files(&dir.join("events"))? {
        let body = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let kind = kind_of(&body);
        let report = if kind == "session" {
            let handled = intake::handle(&d, &InboundMessage::from_body(body))
                .await
                .map_err(|e| format!("{}: {e}", file.display()))?;
            EventReport {
                file: file_name(&file),
                kind,
                outcome: handled.outcome.name().into(),
                reason: handled.outcome.reason(),
                tenant: handled.tenant.as_ref().map(ToString::to_string),
                reference: handled.transaction_id.clone(),
                parked_id: handled.outcome.parked_id().map(str::to_owned),
            }
        } else if kind == "migrate" || kind == "report" {
            let (r, text) = migration_step(&ctx, &file, &body, kind, json).await?;
            reports_text.extend(text);
            r
        } else if kind == "credit" {
            let v: Value =
                serde_json::from_slice(&body).map_err(|e| format!("{}: {e}", file.display()))?;
            let id = v["transactionId"].as_str().unwrap_or_default().to_owned();
            let reason = v["reason"].as_str().map(str::to_owned);
            let (outcome, why, tenant) = match credit::credit(&d, None, &id, reason).await {
                Ok(r) => (
                    r.credit.outcome.name().to_owned(),
                    r.credit
                        .transaction_id
                        .clone()
                        .map(|c| format!("credit {c}")),
                    r.credit.tenant.as_ref().map(ToString::to_string),
                ),
                Err(e) => ("refused".to_owned(), Some(e.to_string()), None),
            };
            EventReport {
                file: file_name(&file),
                kind,
                outcome,
                reason: why,
                tenant,
                reference: Some(id),
                parked_id: None,
            }
        } else {
            let handled = contract::handle(&ctx, &InboundMessage::from_body(body))
                .await
                .map_err(|e| format!("{}: {e}", file.display()))?;
            EventReport {
                file: file_name(&file),
                kind,
                outcome: handled.outcome.name().into(),
                reason: handled.outcome.reason(),
                tenant: handled.tenant.as_ref().map(ToString::to_string),
                reference: handled.reference.clone(),
                parked_id: handled.outcome.parked_id().map(str::to_owned),
            }
        };
        reports.push(report);
    }
    let mut summary: BTreeMap<String, usize> = BTreeMap::new();
    for r in &reports {
        *summary.entry(r.outcome.clone()).or_default() += 1;
    }
    for (gln, _, mode) in &mut glns {
        // The mode as the tenant reads now (a migration step may have moved it).
        if let Some(cfg) = registry::get(ctx.store.as_ref(), gln)
            .await
            .map_err(|e| e.to_string())?
        {
            *mode = ucc_shared::migration::as_of(&cfg, ctx.now()).mode;
        }
    }
    let mut tenants = Vec::new();
    for (gln, name, mode) in &glns {
        let ds = drivers::all(ctx.store.as_ref(), keys::tenant(gln, keys::DRIVERS)).await?;
        let ps = parked::list(ctx.store.as_ref(), Some(gln))
            .await
            .map_err(|e| e.to_string())?;
        let recon = reconcile::list(ctx.store.as_ref(), gln, None)
            .await
            .map_err(|e| e.to_string())?;
        tenants.push((gln, name, mode, ds, ps, recon));
    }
    let unrouted = parked::list(ctx.store.as_ref(), None)
        .await
        .map_err(|e| e.to_string())?;
    if json {
        let tenants_json: Vec<Value> = tenants
            .iter()
            .map(|(gln, name, mode, ds, ps, recon)| {
                serde_json::json!({
                    "gln": gln, "name": name, "mode": mode,
                    "drivers": ds.iter().map(|d| d.operator_view()).collect::<Vec<_>>(),
                    "parked": ps,
                    "reconciliation": recon,
                })
            })
            .collect();
        let uc = standin.as_ref().map(|s| {
            serde_json::json!({
                "baseUrl": s.base_url(),
                "transactions": s.accepted_transactions(),
                "meterValueSeries": s.accepted_meter_series(),
            })
        });
        return print_json(&serde_json::json!({
            "events": reports,
            "summary": summary,
            "tenants": tenants_json,
            "unroutedParked": unrouted,
            "utilityCloud": uc,
            "migrationReports": reports_text
                .iter()
                .map(|(f, r)| serde_json::json!({
                    "file": f,
                    "report": serde_json::from_str::<Value>(r).unwrap_or(Value::Null),
                }))
                .collect::<Vec<_>>(),
        }));
    }
    println!(
        "Scenario {}: {} tenant(s), {} event(s)\n",
        dir.display(),
        glns.len(),
        reports.len()
    );
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.file.clone(),
                r.kind.into(),
                r.outcome.clone(),
                r.reference.clone().unwrap_or_default(),
                r.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["FILE", "KIND", "OUTCOME", "REFERENCE", "REASON"], &rows)
    );
    let counts = summary
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!("\nOutcomes: {counts}");
    for (f, r) in &reports_text {
        println!("\nMigration report ({f}):");
        print!("{}", indent(r));
    }
    for (gln, name, mode, ds, ps, recon) in &tenants {
        println!("\nTenant {gln}  {name}  ({mode})");
        let rows: Vec<Vec<String>> = ds
            .iter()
            .map(|d| {
                vec![
                    d.external_id.clone(),
                    if d.state.active { "active" } else { "inactive" }.into(),
                    d.state.site_id.map_or("-".into(), |s| s.to_string()),
                    drivers::tokens_cell(d),
                ]
            })
            .collect();
        print!(
            "{}",
            indent(&table(&["DRIVER", "STATUS", "SITE", "TOKENS"], &rows))
        );
        for p in ps {
            println!("  parked {}  {}: {}", p.id, p.reason, p.description);
        }
        for r in recon {
            println!(
                "  reconciliation: {} at site {}: {}",
                r.transaction_id, r.site_id, r.note
            );
        }
    }
    if let Some(s) = &standin {
        println!("\nWhat Utility Cloud holds now (read back from the stand-in):");
        let rows: Vec<Vec<String>> = s
            .accepted_transactions()
            .iter()
            .map(|t| {
                vec![
                    t["transactionId"].as_str().unwrap_or_default().to_owned(),
                    t["transactionOwnerId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    t["siteId"].to_string(),
                    t["fullConsumptionKWh"].to_string(),
                    format!(
                        "{} {}",
                        t["totalCostInclVat"],
                        t["currency"].as_str().unwrap_or_default()
                    ),
                    t["totalVat"].to_string(),
                    if t["revenueShareId"].is_null() {
                        "-".into()
                    } else {
                        t["revenueShareId"].to_string()
                    },
                    t["creditReferenceTransactionId"]
                        .as_str()
                        .unwrap_or("-")
                        .to_owned(),
                ]
            })
            .collect();
        print!(
            "{}",
            indent(&table(
                &[
                    "INVOICE LINE",
                    "OWNER (ACCOUNTING POINT)",
                    "SITE",
                    "KWH",
                    "INCL VAT",
                    "VAT",
                    "REVENUE SHARE",
                    "CREDITS"
                ],
                &rows
            ))
        );
        for m in s.accepted_meter_series() {
            let values = m["Values"].as_array().cloned().unwrap_or_default();
            println!(
                "  meter series {} for {}: {} intervals ({}), {}..{}",
                m["TransactionId"].as_str().unwrap_or_default(),
                m["AccountingPointIdentifier"].as_str().unwrap_or_default(),
                values.len(),
                values
                    .iter()
                    .map(|v| v["Quantity"].to_string())
                    .collect::<Vec<_>>()
                    .join(" + "),
                m["Start"].as_str().unwrap_or_default(),
                m["End"].as_str().unwrap_or_default(),
            );
        }
    }
    if !unrouted.is_empty() {
        println!("\nUnrouted parked messages (no configured tenant):");
        for p in &unrouted {
            println!("  {}  {}: {}", p.id, p.reason, p.description);
        }
    }
    Ok(())
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

/// A migration step (SPEC §12): `{"operatorAction": "scheduleMigration", "tenant", "to",
/// "cutover", "at"?}` schedules as an operator would have at `at` (the replayed events are
/// history, so the step says when it happened; default now), and
/// `{"operatorAction": "migrationReport", "tenant", "at"?}` renders the shadow report (as
/// JSON under `migrationReports` with `--json`).
async fn migration_step(
    ctx: &std::sync::Arc<ucc_shared::context::Ctx>,
    file: &Path,
    body: &[u8],
    kind: &'static str,
    json: bool,
) -> Result<(EventReport, Option<(String, String)>), String> {
    let at_file = |e: String| format!("{}: {e}", file.display());
    let v: Value = serde_json::from_slice(body).map_err(|e| at_file(e.to_string()))?;
    let raw = v["tenant"].as_str().unwrap_or_default();
    let gln = super::gln(raw).map_err(at_file)?;
    let time = |field: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
        v.get(field)
            .and_then(Value::as_str)
            .map(|t| {
                chrono::DateTime::parse_from_rfc3339(t)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|e| at_file(format!("{field} {t:?}: {e}")))
            })
            .transpose()
    };
    let now = time("at")?.unwrap_or_else(|| ctx.now());
    let mut report = EventReport {
        file: file_name(file),
        kind,
        outcome: String::new(),
        reason: None,
        tenant: Some(gln.to_string()),
        reference: None,
        parked_id: None,
    };
    if kind == "report" {
        let format = if json {
            super::migration::Format::Json
        } else {
            super::migration::Format::Table
        };
        let text = super::migration::render(ctx, &gln, None, format, now).await?;
        let shadows = ucc_shared::migration::shadows(ctx.store.as_ref(), &gln, None)
            .await
            .map_err(|e| e.to_string())?;
        let totals = ucc_shared::migration::report_of(&shadows).totals;
        report.outcome = "reported".into();
        report.reason = Some(format!(
            "{} session(s) shadow-priced, {} incl. VAT",
            totals.sessions, totals.amounts.total_cost_incl_vat
        ));
        return Ok((report, Some((file_name(file), text))));
    }
    let to = match v["to"].as_str() {
        Some("costedTransaction") => ucc_shared::tenant::Mode::CostedTransaction,
        other => return Err(at_file(format!("to {other:?}: only costedTransaction"))),
    };
    let cutover = time("cutover")?.ok_or_else(|| at_file("cutover is required".into()))?;
    match ucc_shared::migration::schedule_stored(ctx.store.as_ref(), &gln, to, cutover, now).await {
        Ok(_) => {
            ctx.forget_tenant(&gln);
            report.outcome = "scheduled".into();
            report.reason = Some(format!(
                "sessions ending at or after {} go as costed transactions",
                ucc_shared::migration::rfc3339(cutover)
            ));
        }
        Err(e) => {
            report.outcome = "refused".into();
            report.reason = Some(e.to_string());
        }
    }
    Ok((report, None))
}
