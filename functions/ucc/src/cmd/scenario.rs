//! `ucc run-scenario DIR`: load tenants, replay events in file-name order, report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use ucc_shared::contract::{self, InboundMessage};
use ucc_shared::keys;
use ucc_shared::parked;
use ucc_shared::registry;

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
        Ok(v) if v.get("Header").is_none() && v.get("transactionId").is_some() => "session",
        _ => "contract",
    }
}

pub async fn run(store: &str, dir: &Path, json: bool) -> CmdResult {
    let ctx = ctx(store).await?;
    let mut glns = Vec::new();
    for file in json_files(&dir.join("tenants"))? {
        let cfg = super::tenant::load_config(&file)?;
        registry::put(ctx.store.as_ref(), &cfg)
            .await
            .map_err(|e| format!("{}: {e}", file.display()))?;
        ctx.forget_tenant(&cfg.gln);
        glns.push((cfg.gln.clone(), cfg.name.clone(), cfg.mode));
    }
    let mut reports = Vec::new();
    for file in json_files(&dir.join("events"))? {
        let body = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let kind = kind_of(&body);
        let report = if kind == "session" {
            EventReport {
                file: file_name(&file),
                kind,
                outcome: "skipped".into(),
                reason: Some("session-completed handling is not part of this build yet".into()),
                tenant: None,
                reference: None,
                parked_id: None,
            }
        } else {
            let handled = contract::handle(&ctx, &InboundMessage::from_body(body))
                .await
                .map_err(|e| format!("{}: {e}", file.display()))?;
            let parked_id = match &handled.outcome {
                contract::Outcome::Parked { id, .. } => Some(id.clone()),
                _ => None,
            };
            EventReport {
                file: file_name(&file),
                kind,
                outcome: handled.outcome.name().into(),
                reason: handled.outcome.reason(),
                tenant: handled.tenant.as_ref().map(ToString::to_string),
                reference: handled.reference.clone(),
                parked_id,
            }
        };
        reports.push(report);
    }
    let mut summary: BTreeMap<String, usize> = BTreeMap::new();
    for r in &reports {
        *summary.entry(r.outcome.clone()).or_default() += 1;
    }
    let mut tenants = Vec::new();
    for (gln, name, mode) in &glns {
        let ds = drivers::all(ctx.store.as_ref(), keys::tenant(gln, keys::DRIVERS)).await?;
        let ps = parked::list(ctx.store.as_ref(), Some(gln))
            .await
            .map_err(|e| e.to_string())?;
        tenants.push((gln, name, mode, ds, ps));
    }
    let unrouted = parked::list(ctx.store.as_ref(), None)
        .await
        .map_err(|e| e.to_string())?;
    if json {
        let tenants_json: Vec<Value> = tenants
            .iter()
            .map(|(gln, name, mode, ds, ps)| {
                serde_json::json!({
                    "gln": gln, "name": name, "mode": mode,
                    "drivers": ds.iter().map(drivers::view).collect::<Vec<_>>(),
                    "parked": ps,
                })
            })
            .collect();
        return print_json(&serde_json::json!({
            "events": reports,
            "summary": summary,
            "tenants": tenants_json,
            "unroutedParked": unrouted,
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
    for (gln, name, mode, ds, ps) in &tenants {
        println!("\nTenant {gln}  {name}  ({mode})");
        let rows: Vec<Vec<String>> = ds
            .iter()
            .map(|d| {
                vec![
                    d.external_id.clone(),
                    if d.state.active { "active" } else { "inactive" }.into(),
                    d.state.site_id.map_or("-".into(), |s| s.to_string()),
                    d.state
                        .tokens
                        .iter()
                        .map(|t| {
                            format!(
                                "{} ({}{})",
                                t.value,
                                t.kind.as_str(),
                                if t.active { "" } else { ", inactive" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
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
