//! `ucc spot …` (SPEC §13, FIXED): import ENTSO-E A44 day-ahead documents and ECB reference
//! rates into the store, and show one area's delivery day.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::Subcommand;
use ucc_shared::spot::{self, ecb, store as spot_store, Area, SpotNeed, SpotPrices};

use super::{ctx, CmdResult};
use crate::output::{print_json, table};

#[derive(Subcommand)]
pub enum SpotCmd {
    /// Store every interval of an ENTSO-E day-ahead price document (A44 XML).
    Import { file: PathBuf },
    /// ECB euro reference rates.
    #[command(subcommand)]
    Rates(RatesCmd),
    /// One area's prices for a CET/CEST delivery day (96 intervals; 92 or 100 on DST days).
    Show {
        #[arg(long)]
        area: String,
        /// YYYY-MM-DD
        #[arg(long)]
        day: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum RatesCmd {
    /// Store the rates of an ECB eurofxref XML file.
    Import { file: PathBuf },
}

pub async fn run(store: &str, cmd: SpotCmd) -> CmdResult {
    match cmd {
        SpotCmd::Import { file } => import(store, &file).await,
        SpotCmd::Rates(RatesCmd::Import { file }) => import_rates(store, &file).await,
        SpotCmd::Show { area, day, json } => show(store, &area, &day, json).await,
    }
}

fn read(file: &Path) -> Result<String, String> {
    std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))
}

async fn import(store: &str, file: &Path) -> CmdResult {
    // Parsed completely before anything is written: a malformed document stores nothing.
    let doc = spot::parse_a44(&read(file)?).map_err(|e| format!("{}: {e}", file.display()))?;
    let ctx = ctx(store).await?;
    let summary = spot_store::put_document(ctx.store.as_ref(), &doc, ctx.now())
        .await
        .map_err(|e| e.to_string())?;
    for ((area, day), n) in &summary.days {
        let expected = spot::day_quarters(*day).len();
        println!(
            "{area} {day}: {n} of {expected} intervals stored from document {}",
            doc.mrid
        );
    }
    Ok(())
}

async fn import_rates(store: &str, file: &Path) -> CmdResult {
    let rates = ecb::parse_ecb(&read(file)?).map_err(|e| format!("{}: {e}", file.display()))?;
    let ctx = ctx(store).await?;
    let n = spot_store::put_rates(ctx.store.as_ref(), &rates)
        .await
        .map_err(|e| e.to_string())?;
    let days: std::collections::BTreeSet<_> = rates.iter().map(|r| r.date).collect();
    println!(
        "{n} rates stored for {} day(s){}",
        days.len(),
        days.last()
            .map(|d| format!(", latest {d}"))
            .unwrap_or_default()
    );
    Ok(())
}

pub fn parse_area(raw: &str) -> Result<Area, String> {
    raw.parse()
        .map_err(|e: spot::area::UnknownArea| format!("--area: {e}"))
}

pub fn parse_day(raw: &str) -> Result<NaiveDate, String> {
    spot::parse_delivery_day(raw).map_err(|e| format!("--day: {e}"))
}

async fn show(store: &str, area: &str, day: &str, json: bool) -> CmdResult {
    let area = parse_area(area)?;
    let day = parse_day(day)?;
    let ctx = ctx(store).await?;
    let report = spot_store::day_report(ctx.store.as_ref(), area, day)
        .await
        .map_err(|e| e.to_string())?;
    if json {
        return print_json(&report);
    }
    println!(
        "{} {} (CET/CEST delivery day, {} – {} UTC): {} of {} intervals{}",
        report.area,
        report.day,
        report.start,
        report.end,
        report.stored_intervals,
        report.expected_intervals,
        if report.complete {
            ""
        } else {
            " — INCOMPLETE"
        }
    );
    let rows: Vec<Vec<String>> = report
        .intervals
        .iter()
        .map(|i| {
            vec![
                i.start.clone(),
                i.end.clone(),
                i.eur_mwh.clone(),
                i.resolution.clone(),
                i.document.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "START (UTC)",
                "END (UTC)",
                "EUR/MWH",
                "RESOLUTION",
                "DOCUMENT"
            ],
            &rows
        )
    );
    Ok(())
}

/// For `ucc price`, which is synchronous: fetch what a session needs on a thread of its own
/// (the command already runs inside the async runtime, which must not be blocked on).
pub fn fetch_blocking(store: &str, need: &SpotNeed) -> Result<SpotPrices, String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let ctx = ctx(store).await?;
                spot_store::fetch(ctx.store.as_ref(), need)
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join()
        .map_err(|_| "the spot price reader failed".to_owned())?
    })
}
