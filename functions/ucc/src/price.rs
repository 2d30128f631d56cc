//! `ucc price` (SPEC §5, FIXED flags): price an OCPI CDR, a file of CDRs, or a
//! session-completed event, and print OCPI totals (plus invoice amounts for sessions).
//!
//! Self-contained on purpose: it only needs `ucc_shared::pricing` and `ucc_shared::session`,
//! so the command works without a store. Every failure is one stderr line naming the file.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rust_decimal::Decimal;
use serde_json::Value;
use ucc_shared::pricing::json::{decimal_of, JsonPath};
use ucc_shared::pricing::{
    cdr::parse_cdr_json, explain, output, parse_cdr, parse_tariff_at, parse_zone, price_cdr,
    price_session_with_spot, resolve_cdr_zone, select_tariff, Cdr, InvoiceSettings, PricingResult,
    Tariff,
};
use ucc_shared::session::SessionCompleted;
use ucc_shared::spot::{SpotNeed, SpotPrices};

/// Where a spot-indexed tariff's prices come from (SPEC §13): the store, read by the caller.
pub type SpotFetch<'a> = &'a dyn Fn(&SpotNeed) -> Result<SpotPrices, String>;

#[derive(clap::Args, Debug, Clone)]
pub struct PriceArgs {
    /// OCPI 2.2.1 Tariff JSON (an object, or an array: the first active one is used).
    #[arg(long, value_name = "TARIFF.json")]
    pub tariff: Option<PathBuf>,
    /// One OCPI 2.2.1 CDR.
    #[arg(long, value_name = "CDR.json")]
    pub cdr: Option<PathBuf>,
    /// Newline-delimited CDRs; prints one result per line.
    #[arg(long, value_name = "FILE.ndjson")]
    pub cdrs: Option<PathBuf>,
    /// A session-completed event (SPEC §4); adds invoice amounts.
    #[arg(long, value_name = "SESSION.json")]
    pub session: Option<PathBuf>,
    /// Tenant (GLN or tenant config JSON): currency, VAT, VAT mode, time zone, tariffs.
    #[arg(long, value_name = "GLN|FILE.json")]
    pub tenant: Option<String>,
    /// IANA time zone for restrictions, e.g. Europe/Oslo.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Print a human-readable table instead of JSON.
    #[arg(long)]
    pub explain: bool,
}

/// One-line failure: `<file>: <what is wrong>`.
struct Failure(String);

impl Failure {
    fn at(file: &Path, msg: impl std::fmt::Display) -> Self {
        Failure(format!("{}: {msg}", file.display()))
    }
}

pub fn run(args: &PriceArgs, spot: SpotFetch<'_>) -> ExitCode {
    run_with_tenant(args, None, spot)
}

/// As [`run`], with the tenant already resolved by the caller (e.g. `--tenant GLN` looked up
/// in the store); it then takes precedence over reading `--tenant` as a file.
pub fn run_with_tenant(
    args: &PriceArgs,
    tenant: Option<TenantPricing>,
    spot: SpotFetch<'_>,
) -> ExitCode {
    // Buffered: `--cdrs` prints one line per CDR, and a locked stdout alone flushes (one
    // write syscall) per line. Flushed before any error line, so results stay ahead of it.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = run_to(args, tenant, spot, &mut out).and_then(|()| {
        out.flush()
            .map_err(|e| Failure(format!("cannot write output: {e}")))
    });
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            let one_line = msg.replace(['\n', '\r'], " ");
            let _ = writeln!(std::io::stderr(), "ucc price: {one_line}");
            ExitCode::FAILURE
        }
    }
}

fn run_to(
    args: &PriceArgs,
    tenant: Option<TenantPricing>,
    spot: SpotFetch<'_>,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let inputs = [
        args.cdr.is_some(),
        args.cdrs.is_some(),
        args.session.is_some(),
    ];
    if inputs.iter().filter(|x| **x).count() != 1 {
        return Err(Failure(
            "give exactly one of --cdr FILE, --cdrs FILE.ndjson or --session FILE".to_owned(),
        ));
    }
    let tariffs = match &args.tariff {
        Some(path) => Some(load_tariffs(path)?),
        None => None,
    };
    if let Some(path) = &args.cdr {
        let v = read_json(path)?;
        let cdr = parse_cdr(&v).map_err(|e| Failure::at(path, e))?;
        let result = price_one_cdr(&cdr, tariffs.as_deref(), args, path, None)?;
        write_out(out, &render(&result, None, args, false))
    } else if let Some(path) = &args.cdrs {
        let f = std::fs::File::open(path).map_err(|e| Failure::at(path, e))?;
        let mut reader = BufReader::with_capacity(1 << 16, f);
        let mut line = String::new();
        let mut line_out = Vec::with_capacity(4096);
        for i in 0.. {
            line.clear();
            if reader
                .read_line(&mut line)
                .map_err(|e| Failure::at(path, e))?
                == 0
            {
                break;
            }
            if line.trim().is_empty() {
                continue;
            }
            let cdr = parse_cdr_json(line.as_bytes())
                .map_err(|e| Failure::at(path, format!("line {}: {e}", i + 1)))?;
            let result = price_one_cdr(&cdr, tariffs.as_deref(), args, path, Some(i + 1))?;
            if args.explain {
                write_out(out, &render(&result, None, args, true))?;
            } else {
                // Straight from the typed result (no `Value` tree per CDR) into one reused
                // line buffer, written out whole.
                line_out.clear();
                serde_json::to_writer(&mut line_out, &output::result_out(&result))
                    .map_err(|e| Failure(format!("cannot write output: {e}")))?;
                line_out.push(b'\n');
                out.write_all(&line_out)
                    .map_err(|e| Failure(format!("cannot write output: {e}")))?;
            }
        }
        Ok(())
    } else if let Some(path) = &args.session {
        price_session_file(path, tariffs, tenant, args, spot, out)
    } else {
        Ok(())
    }
}

fn write_out(out: &mut dyn Write, text: &str) -> Result<(), Failure> {
    writeln!(out, "{text}").map_err(|e| Failure(format!("cannot write output: {e}")))
}

fn read_json(path: &Path) -> Result<Value, Failure> {
    let bytes = std::fs::read(path).map_err(|e| Failure::at(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Failure::at(path, format!("not valid JSON: {e}")))
}

fn load_tariffs(path: &Path) -> Result<Vec<Tariff>, Failure> {
    let v = read_json(path)?;
    match &v {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(Failure::at(path, "contains no tariff"));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    parse_tariff_at(t, &JsonPath::root().index(i)).map_err(|e| Failure::at(path, e))
                })
                .collect()
        }
        _ => parse_tariff_at(&v, &JsonPath::root())
            .map(|t| vec![t])
            .map_err(|e| Failure::at(path, e)),
    }
}

fn price_one_cdr(
    cdr: &Cdr,
    tariffs: Option<&[Tariff]>,
    args: &PriceArgs,
    path: &Path,
    line: Option<usize>,
) -> Result<PricingResult, Failure> {
    let at = |msg: String| match line {
        Some(n) => Failure::at(path, format!("line {n}: {msg}")),
        None => Failure::at(path, msg),
    };
    let own;
    let candidates: &[Tariff] = match tariffs {
        Some(t) => t,
        None => {
            if !cdr.has_tariffs() {
                return Err(at("the CDR has no tariffs; pass --tariff".to_owned()));
            }
            own = cdr.tariffs().map_err(|e| at(e.to_string()))?;
            &own
        }
    };
    let tariff = select_tariff(candidates, &BTreeMap::new(), None, cdr.start)
        .map_err(|e| at(e.to_string()))?;
    let tz = resolve_cdr_zone(cdr, args.tz.as_deref()).map_err(|e| at(e.to_string()))?;
    let mut result = price_cdr(cdr, tariff, tz);
    if let Some(c) = &cdr.currency {
        if c != &tariff.currency {
            result.warnings.push(format!(
                "CDR currency {c} differs from tariff currency {}",
                tariff.currency
            ));
        }
    }
    Ok(result)
}

fn render(
    r: &PricingResult,
    quote: Option<(&ucc_shared::pricing::SessionQuote, bool)>,
    args: &PriceArgs,
    compact: bool,
) -> String {
    if args.explain {
        return explain::explain(r, quote.map(|(q, _)| &q.invoice));
    }
    let v = match quote {
        Some((q, incl)) => output::quote_json(q, incl),
        None => output::result_json(r),
    };
    if compact {
        v.to_string()
    } else {
        serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string())
    }
}

/// The tenant fields pricing needs. `--tenant FILE.json` reads them straight from a tenant
/// config file (camelCase); a caller that resolves tenants elsewhere builds one itself.
#[derive(Clone, Debug)]
pub struct TenantPricing {
    pub settings: InvoiceSettings,
    pub tariffs: Vec<Tariff>,
    /// Site id (as a string, as in the tenant JSON) → tariff id.
    pub site_tariffs: BTreeMap<String, String>,
}

fn load_tenant(spec: &str) -> Result<TenantPricing, Failure> {
    let path = Path::new(spec);
    if !path.exists() {
        if spec.len() == 13 && spec.chars().all(|c| c.is_ascii_digit()) {
            return Err(Failure(format!(
                "--tenant {spec}: no tenant with this GLN in the store"
            )));
        }
        return Err(Failure(format!("{spec}: no such file")));
    }
    let v = read_json(path)?;
    let obj = v
        .as_object()
        .ok_or_else(|| Failure::at(path, "expected a tenant config object"))?;
    let mut settings = InvoiceSettings::default();
    if let Some(c) = obj.get("currency").filter(|x| !x.is_null()) {
        let s = c
            .as_str()
            .filter(|s| s.len() == 3 && s.chars().all(|ch| ch.is_ascii_uppercase()))
            .ok_or_else(|| Failure::at(path, format!("currency: {c} is not an ISO 4217 code")))?;
        settings.currency = s.to_owned();
    }
    if let Some(vp) = obj.get("vatPercent").filter(|x| !x.is_null()) {
        let d = decimal_of(vp)
            .filter(|d| *d >= Decimal::ZERO)
            .ok_or_else(|| {
                Failure::at(
                    path,
                    format!("vatPercent: {vp} is not a non-negative number"),
                )
            })?;
        settings.vat_percent = d;
    }
    if let Some(b) = obj.get("pricesIncludeVat").filter(|x| !x.is_null()) {
        settings.prices_include_vat = b.as_bool().ok_or_else(|| {
            Failure::at(path, format!("pricesIncludeVat: {b} is not true or false"))
        })?;
    }
    if let Some(z) = obj.get("timeZone").filter(|x| !x.is_null()) {
        let name = z
            .as_str()
            .ok_or_else(|| Failure::at(path, format!("timeZone: {z} is not a string")))?;
        settings.time_zone =
            parse_zone(name).map_err(|e| Failure::at(path, format!("timeZone: {e}")))?;
    }
    let mut tariffs = Vec::new();
    if let Some(t) = obj.get("tariffs").filter(|x| !x.is_null()) {
        let items = t
            .as_array()
            .ok_or_else(|| Failure::at(path, "tariffs: expected an array"))?;
        let root = JsonPath::root();
        let base = root.key("tariffs");
        for (i, item) in items.iter().enumerate() {
            tariffs.push(parse_tariff_at(item, &base.index(i)).map_err(|e| Failure::at(path, e))?);
        }
    }
    let mut site_tariffs = BTreeMap::new();
    if let Some(st) = obj.get("siteTariffs").filter(|x| !x.is_null()) {
        let m = st.as_object().ok_or_else(|| {
            Failure::at(
                path,
                "siteTariffs: expected an object of site id to tariff id",
            )
        })?;
        for (site, id) in m {
            let id = id.as_str().ok_or_else(|| {
                Failure::at(
                    path,
                    format!("siteTariffs.{site}: {id} is not a tariff id string"),
                )
            })?;
            if !tariffs.iter().any(|t| t.id == id) {
                return Err(Failure::at(
                    path,
                    format!("siteTariffs.{site}: tariff \"{id}\" is not in tariffs"),
                ));
            }
            site_tariffs.insert(site.clone(), id.to_owned());
        }
    }
    Ok(TenantPricing {
        settings,
        tariffs,
        site_tariffs,
    })
}

fn price_session_file(
    path: &Path,
    tariffs: Option<Vec<Tariff>>,
    resolved: Option<TenantPricing>,
    args: &PriceArgs,
    spot: SpotFetch<'_>,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let bytes = std::fs::read(path).map_err(|e| Failure::at(path, e))?;
    let session = SessionCompleted::from_json(&bytes).map_err(|e| Failure::at(path, e))?;
    let mut notes = Vec::new();
    let tenant = match (resolved, &args.tenant) {
        (Some(t), _) => Some(t),
        (None, Some(spec)) => Some(load_tenant(spec)?),
        (None, None) => {
            notes.push(
                "no --tenant: invoice uses the defaults NOK, 25% VAT, prices excl. VAT, Europe/Oslo"
                    .to_owned(),
            );
            None
        }
    };
    let mut settings = tenant
        .as_ref()
        .map(|t| t.settings.clone())
        .unwrap_or_default();
    if let Some(z) = &args.tz {
        settings.time_zone = parse_zone(z).map_err(|e| Failure(format!("--tz: {e}")))?;
    }
    let empty = BTreeMap::new();
    let (candidates, site_map, source): (&[Tariff], &BTreeMap<String, String>, String) =
        match (&tariffs, &tenant) {
            (Some(t), _) => (
                t,
                &empty,
                args.tariff
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            (None, Some(t)) if !t.tariffs.is_empty() => (
                &t.tariffs,
                &t.site_tariffs,
                args.tenant.clone().unwrap_or_default(),
            ),
            _ => {
                return Err(Failure::at(
                    path,
                    "no tariff to price with: pass --tariff or a --tenant with tariffs",
                ))
            }
        };
    let tariff = select_tariff(
        candidates,
        site_map,
        session.site_id,
        session.timestamp_start,
    )
    .map_err(|e| Failure(format!("{source}: {e}")))?;
    if tenant.is_none() && tariff.currency != settings.currency {
        // Without a tenant there is no invoicing currency to hold the tariff to; the tariff's
        // own currency is the only sensible one.
        notes.push(format!(
            "no --tenant: invoicing in the tariff's currency {} instead of the default {}",
            tariff.currency, settings.currency
        ));
        settings.currency = tariff.currency.clone();
    }
    // A spot-indexed tariff prices with the stored day-ahead prices; a missing one is an
    // error naming the first missing interval (exit 1), never a guess.
    let prices = match ucc_shared::pricing::spot::spot_need(&session, tariff) {
        Some(need) => spot(&need).map_err(|e| Failure(format!("reading spot prices: {e}")))?,
        None => SpotPrices::default(),
    };
    let mut quote = price_session_with_spot(&session, tariff, &settings, &prices)
        .map_err(|e| Failure::at(path, e))?;
    notes.append(&mut quote.warnings);
    quote.warnings = notes;
    let text = render(
        &quote.ocpi,
        Some((&quote, settings.prices_include_vat)),
        args,
        false,
    );
    let text = if args.explain {
        let mut t = text;
        for w in &quote.warnings {
            if !t.contains(w.as_str()) {
                t.push_str(&format!("warning: {w}\n"));
            }
        }
        t
    } else {
        text
    };
    write_out(out, text.trim_end())
}
