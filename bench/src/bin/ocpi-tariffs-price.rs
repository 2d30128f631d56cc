//! The reference side of `make bench`'s whole-process pricing comparison: the public
//! `ocpi-tariffs` 0.48 pricer over the same tariff and newline-delimited CDRs that
//! `ucc price --tariff T --cdrs FILE` prices, one process, one result line per CDR.
//!
//! It prints less than ucc does (total cost and energy per CDR, not the whole breakdown),
//! which only favours it. The tariff is parsed once and cloned per CDR, as its API takes
//! tariffs by value.
//!
//! Usage: `ocpi-tariffs-price TARIFF.json CDRS.ndjson ZONE`

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

use ocpi_tariffs::{cdr, price, tariff, Version};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ocpi-tariffs-price: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tariff_path, cdrs_path, zone] = args.as_slice() else {
        return Err("usage: ocpi-tariffs-price TARIFF.json CDRS.ndjson ZONE".into());
    };
    let tz: chrono_tz::Tz = zone.parse().map_err(|e| format!("{zone}: {e}"))?;
    let tariff_text =
        std::fs::read_to_string(tariff_path).map_err(|e| format!("{tariff_path}: {e}"))?;
    let parsed = tariff::parse_with_version(&tariff_text, Version::V221)
        .map_err(|e| format!("{tariff_path}: {e:?}"))?;
    let file = std::fs::File::open(cdrs_path).map_err(|e| format!("{cdrs_path}: {e}"))?;
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut line = String::new();
    let mut reader = BufReader::with_capacity(1 << 16, file);
    for n in 1.. {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let c = cdr::parse_with_version(&line, Version::V221)
            .map_err(|e| format!("{cdrs_path}: line {n}: {e:?}"))?;
        let report = cdr::price(
            &c.cdr,
            price::TariffSource::Override(vec![parsed.tariff.clone()]),
            tz,
        )
        .map_err(|e| format!("{cdrs_path}: line {n}: {e:?}"))?;
        let (report, _warnings) = report.into_parts();
        writeln!(
            out,
            "{:?}\t{:?}",
            report.total_cost.calculated, report.total_energy.calculated
        )
        .map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}
