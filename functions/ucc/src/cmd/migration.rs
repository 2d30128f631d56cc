//! Type A → B migration (SPEC §12): `ucc tenant migrate` schedules or cancels it,
//! `ucc migration report` shows what Type B would have billed for the meter-value sessions
//! delivered meanwhile.

use chrono::{DateTime, Utc};
use ucc_shared::migration::{self, MigrationError};
use ucc_shared::tenant::Mode;

use super::{ctx, gln, CmdResult};
use crate::output::{print_json, table};

fn target(raw: &str) -> Result<Mode, String> {
    match raw {
        "costedTransaction" => Ok(Mode::CostedTransaction),
        "meterValue" => Ok(Mode::MeterValue),
        _ => Err(format!(
            "--to {raw:?}: the only migration target is costedTransaction"
        )),
    }
}

fn refusal(g: &ucc_shared::gln::Gln, e: MigrationError) -> String {
    match e {
        MigrationError::Refused(c) => format!("tenant {g}: {}: {}", cli_field(&c.field), c.message),
        other => other.to_string(),
    }
}

/// A refusal's field as the operator typed it: `--cutover` and `--to` are options.
fn cli_field(field: &str) -> String {
    match field {
        "cutover" | "to" => format!("--{field}"),
        other => other.to_owned(),
    }
}

/// `ucc tenant migrate GLN --to costedTransaction --cutover RFC3339` / `--cancel`.
pub async fn migrate(
    store: &str,
    raw: &str,
    to: Option<&str>,
    cutover: Option<&str>,
    cancel: bool,
    json: bool,
) -> CmdResult {
    let g = gln(raw)?;
    let ctx = ctx(store).await?;
    let now = ctx.now();
    let cfg = if cancel {
        migration::cancel_stored(ctx.store.as_ref(), &g, now)
            .await
            .map_err(|e| refusal(&g, e))?
    } else {
        let to = target(to.ok_or("--to costedTransaction is required (or --cancel)")?)?;
        let raw_cut = cutover.ok_or("--cutover RFC3339 is required (or --cancel)")?;
        let cut = DateTime::parse_from_rfc3339(raw_cut)
            .map_err(|e| format!("--cutover {raw_cut:?} is not an RFC 3339 time: {e}"))?
            .with_timezone(&Utc);
        migration::schedule_stored(ctx.store.as_ref(), &g, to, cut, now)
            .await
            .map_err(|e| refusal(&g, e))?
    };
    let view = migration::view(&cfg, now);
    if json {
        return print_json(&view);
    }
    match view["state"].as_str() {
        Some("scheduled") => println!(
            "tenant {g}: migration to {} scheduled; sessions ending at or after {} go as costed transactions",
            view["to"].as_str().unwrap_or_default(),
            view["cutover"].as_str().unwrap_or_default()
        ),
        _ => println!("tenant {g}: migration cancelled; sessions keep going as meter values"),
    }
    Ok(())
}

/// Output format of `ucc migration report`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// `ucc migration report GLN [--since DURATION] [--json|--csv]`.
pub async fn report(store: &str, raw: &str, since: Option<&str>, format: Format) -> CmdResult {
    let g = gln(raw)?;
    let ctx = ctx(store).await?;
    let now = ctx.now();
    let since = since
        .map(|s| super::logs::parse_time(s, now).map_err(|e| format!("--since {e}")))
        .transpose()?;
    print!("{}", render(&ctx, &g, since, format, now).await?);
    Ok(())
}

/// The report as text in `format` (also printed by `ucc run-scenario`'s report step).
pub async fn render(
    ctx: &ucc_shared::context::Ctx,
    g: &ucc_shared::gln::Gln,
    since: Option<DateTime<Utc>>,
    format: Format,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let cfg = ucc_shared::registry::get(ctx.store.as_ref(), g)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no tenant with GLN {g}"))?;
    let shadows = migration::shadows(ctx.store.as_ref(), g, since)
        .await
        .map_err(|e| e.to_string())?;
    let report = migration::report_of(&shadows);
    match format {
        Format::Json => {
            let s = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
            return Ok(format!("{s}\n"));
        }
        Format::Csv => return Ok(migration::csv(&report)),
        Format::Table => {}
    }
    let view = migration::view(&cfg, now);
    let currency = cfg.currency.clone().unwrap_or_default();
    let mut out = format!(
        "Shadow pricing of {} ({g}): what costed transactions would have billed, in {currency}{}\n",
        cfg.name,
        match view["state"].as_str() {
            Some("scheduled") =>
                format!("; cutover {}", view["cutover"].as_str().unwrap_or_default()),
            Some("done") => format!(
                "; migrated at {}",
                view["migratedAt"].as_str().unwrap_or_default()
            ),
            _ => "; no migration scheduled".to_owned(),
        }
    );
    let rows: Vec<Vec<String>> = report
        .sessions
        .iter()
        .map(|r| {
            vec![
                r.transaction_id.clone(),
                r.timestamp_end.clone(),
                r.amounts.full_consumption_kwh.clone(),
                r.amounts.total_cost_excl_vat.clone(),
                r.amounts.total_vat.clone(),
                r.amounts.total_cost_incl_vat.clone(),
                r.tariff_id.clone(),
            ]
        })
        .chain(
            migration::by_tariff(&shadows)
                .into_iter()
                .map(|(tariff, t)| totals_row("subtotal".into(), &t, &tariff)),
        )
        .chain(std::iter::once(totals_row(
            "TOTAL".into(),
            &report.totals,
            "",
        )))
        .collect();
    out.push_str(&table(
        &[
            "TRANSACTION",
            "ENDED (UTC)",
            "KWH",
            "EXCL VAT",
            "VAT",
            "INCL VAT",
            "TARIFF",
        ],
        &rows,
    ));
    Ok(out)
}

fn totals_row(label: String, t: &migration::Totals, tariff: &str) -> Vec<String> {
    vec![
        label,
        format!("{} sessions", t.sessions),
        t.amounts.full_consumption_kwh.clone(),
        t.amounts.total_cost_excl_vat.clone(),
        t.amounts.total_vat.clone(),
        t.amounts.total_cost_incl_vat.clone(),
        tariff.to_owned(),
    ]
}
