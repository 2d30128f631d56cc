//! `ucc price` (SPEC §5, FIXED flags) as a process: JSON on stdout, one line on stderr and a
//! non-zero exit for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

type R = Result<(), Box<dyn std::error::Error>>;

fn ucc(args: &[&str]) -> Result<Output, std::io::Error> {
    Command::new(env!("CARGO_BIN_EXE_ucc"))
        .arg("price")
        .args(args)
        .env_remove("UCC_STORE")
        .output()
}

fn real_world(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/tests/data/real_world")
        .join(rel)
        .display()
        .to_string()
}

fn json_out(o: &Output) -> Result<Value, Box<dyn std::error::Error>> {
    if !o.status.success() {
        return Err(format!("ucc failed: {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    Ok(serde_json::from_slice(&o.stdout)?)
}

fn write(dir: &Path, name: &str, v: &Value) -> Result<PathBuf, std::io::Error> {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string())?;
    Ok(p)
}

fn one_line_failure(o: &Output, must_mention: &str) {
    assert!(!o.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err}");
    assert!(
        err.contains(must_mention),
        "stderr {err:?} does not mention {must_mention:?}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn prices_a_cdr_with_the_fixed_output_keys() -> R {
    let o = ucc(&[
        "--tariff",
        &real_world("step_size/tariff.json"),
        "--cdr",
        &real_world("step_size/cdr1.json"),
    ])?;
    let v = json_out(&o)?;
    assert_eq!(
        v["total_cost"],
        json!({"excl_vat": "0.5502", "incl_vat": "0.5502"})
    );
    for key in [
        "total_energy_cost",
        "total_time_cost",
        "total_parking_cost",
        "total_fixed_cost",
    ] {
        assert!(
            v[key]["excl_vat"].is_string() && v[key]["incl_vat"].is_string(),
            "{key}"
        );
    }
    assert_eq!(v["total_time"], "0.2000");
    assert_eq!(v["total_energy"], "0.0000");
    assert_eq!(v["total_parking_time"], "0.0334");
    assert_eq!(v["periods"].as_array().map(Vec::len), Some(3));
    assert!(v["warnings"].is_array());
    assert_eq!(v["time_zone"], "Europe/Amsterdam"); // from cdr_location.country NLD
    Ok(())
}

#[test]
fn uses_the_cdrs_own_tariffs_without_tariff_flag() -> R {
    let v = json_out(&ucc(&[
        "--cdr",
        &real_world("codeberg_issue_228/cdr.json"),
    ])?)?;
    assert_eq!(v["total_cost"]["excl_vat"], "1.8370");
    Ok(())
}

#[test]
fn tz_flag_overrides_the_country() -> R {
    let v = json_out(&ucc(&[
        "--tariff",
        &real_world("step_size/tariff.json"),
        "--cdr",
        &real_world("step_size/cdr1.json"),
        "--tz",
        "UTC",
    ])?)?;
    // 15:55–16:07 UTC is all before 17:00: every minute at the 1.20 element
    assert_eq!(v["time_zone"], "UTC");
    assert_ne!(v["total_cost"]["excl_vat"], "0.5502");
    Ok(())
}

#[test]
fn ndjson_prints_one_result_per_line() -> R {
    let dir = tempfile::tempdir()?;
    let a: Value = serde_json::from_str(&std::fs::read_to_string(real_world(
        "simple_025kwh/cdr1.json",
    ))?)?;
    let lines = format!("{a}\n\n{a}\n");
    let p = dir.path().join("cdrs.ndjson");
    std::fs::write(&p, lines)?;
    let o = ucc(&[
        "--tariff",
        &real_world("simple_025kwh/tariff.json"),
        "--cdrs",
        &p.display().to_string(),
    ])?;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout)?;
    let results: Vec<Value> = out
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["total_cost"], results[1]["total_cost"]);
    Ok(())
}

fn tenant() -> Value {
    json!({
        "gln": "7080010002488", "customerId": "emb-cust-0042", "name": "Test", "mode": "costedTransaction",
        "currency": "NOK", "vatPercent": "25", "pricesIncludeVat": false, "timeZone": "Europe/Oslo",
        "tariffs": [
            {"id": "STD", "currency": "NOK", "elements": [{"price_components": [{"type": "ENERGY", "price": "3.00", "step_size": 1}]}]},
            {"id": "BRL", "currency": "NOK", "elements": [{"price_components": [{"type": "ENERGY", "price": "2.00", "step_size": 1}]}]}
        ],
        "siteTariffs": {"1042": "BRL"}
    })
}

fn session() -> Value {
    json!({
        "customerId": "emb-cust-0042", "transactionId": 88812345, "chargerId": "EMB-0001234",
        "socketId": 1, "siteId": 1042, "authorizedIdTag": "v:7K2M9QXR4T8B3N5P",
        "timestampStart": "2026-11-20T16:42:10Z", "timestampEnd": "2026-11-20T21:03:55Z",
        "meterReadStartWh": 1523400, "meterReadEndWh": 1546150,
        "meterValues": [{"timestamp": "2026-11-20T17:00:00Z", "energyWh": 1525610}]
    })
}

#[test]
fn session_with_tenant_file_adds_invoice_and_tariff_id() -> R {
    let dir = tempfile::tempdir()?;
    let t = write(dir.path(), "tenant.json", &tenant())?;
    let s = write(dir.path(), "session.json", &session())?;
    let v = json_out(&ucc(&[
        "--session",
        &s.display().to_string(),
        "--tenant",
        &t.display().to_string(),
    ])?)?;
    assert_eq!(v["tariff_id"], "BRL");
    let inv = &v["invoice"];
    // 22.750 kWh × 2.00 = 45.50; VAT 11.38 (rounded 11.375); 56.88
    assert_eq!(inv["totalCostExclVat"].to_string(), "45.50");
    assert_eq!(inv["totalVat"].to_string(), "11.38");
    assert_eq!(inv["totalCostInclVat"].to_string(), "56.88");
    assert_eq!(inv["fullConsumptionKWh"].to_string(), "22.750");
    assert_eq!(inv["currency"], "NOK");
    Ok(())
}

#[test]
fn session_without_tenant_warns_about_defaults() -> R {
    let dir = tempfile::tempdir()?;
    let s = write(dir.path(), "session.json", &session())?;
    let o = ucc(&[
        "--session",
        &s.display().to_string(),
        "--tariff",
        &real_world("simple_025kwh/tariff.json"),
    ])?;
    // simple_025kwh is in EUR: without a tenant the invoice follows the tariff's currency
    let v = json_out(&o)?;
    assert_eq!(v["invoice"]["currency"], "EUR");
    assert!(v["warnings"].to_string().contains("EUR"));
    // with a tenant in NOK, an EUR tariff is refused (one line)
    let t = write(dir.path(), "tenant.json", &tenant())?;
    let o = ucc(&[
        "--session",
        &s.display().to_string(),
        "--tariff",
        &real_world("simple_025kwh/tariff.json"),
        "--tenant",
        &t.display().to_string(),
    ])?;
    one_line_failure(&o, "EUR");
    let t = write(dir.path(), "nok.json", &tenant()["tariffs"][0])?;
    let v = json_out(&ucc(&[
        "--session",
        &s.display().to_string(),
        "--tariff",
        &t.display().to_string(),
    ])?)?;
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("NOK") && warnings.contains("25%") && warnings.contains("Europe/Oslo"),
        "{warnings}"
    );
    assert_eq!(v["invoice"]["totalCostExclVat"].to_string(), "68.25");
    Ok(())
}

#[test]
fn explain_prints_a_table() -> R {
    let o = ucc(&[
        "--tariff",
        &real_world("step_size/tariff.json"),
        "--cdr",
        &real_world("step_size/cdr1.json"),
        "--explain",
    ])?;
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout)?;
    assert!(
        text.contains("PARKING_TIME") && text.contains("TOTAL") && text.contains("0.5502"),
        "{text}"
    );
    assert!(serde_json::from_str::<Value>(&text).is_err());
    Ok(())
}

#[test]
fn bad_input_is_one_line_naming_the_file() -> R {
    let dir = tempfile::tempdir()?;
    let mut bad_tariff: Value =
        serde_json::from_str(&std::fs::read_to_string(real_world("complex/tariff.json"))?)?;
    bad_tariff["elements"][4]["restrictions"]["start_time"] = json!("25:00");
    let t = write(dir.path(), "bad-tariff.json", &bad_tariff)?;
    let o = ucc(&[
        "--tariff",
        &t.display().to_string(),
        "--cdr",
        &real_world("step_size/cdr1.json"),
    ])?;
    one_line_failure(
        &o,
        "bad-tariff.json: elements[4].restrictions.start_time: \"25:00\" is not a time HH:MM",
    );

    let o = ucc(&[
        "--tariff",
        &real_world("misspelled_field/tariff.json"),
        "--cdr",
        &real_world("step_size/cdr1.json"),
    ])?;
    one_line_failure(&o, "dayOfWeek");

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{ not json")?;
    let o = ucc(&[
        "--tariff",
        &real_world("step_size/tariff.json"),
        "--cdr",
        &garbage.display().to_string(),
    ])?;
    one_line_failure(&o, "garbage.json: not valid JSON");

    let o = ucc(&[
        "--tariff",
        &real_world("step_size/tariff.json"),
        "--cdr",
        "/nonexistent/cdr.json",
    ])?;
    one_line_failure(&o, "/nonexistent/cdr.json");

    let mut usa: Value =
        serde_json::from_str(&std::fs::read_to_string(real_world("step_size/cdr1.json"))?)?;
    usa["cdr_location"]["country"] = json!("USA");
    let c = write(dir.path(), "usa.json", &usa)?;
    let o = ucc(&[
        "--tariff",
        &real_world("step_size/tariff.json"),
        "--cdr",
        &c.display().to_string(),
    ])?;
    one_line_failure(&o, "usa.json: country \"USA\" spans several time zones");

    let mut s = session();
    s["timestampEnd"] = json!("2026-11-20T10:00:00Z");
    let sp = write(dir.path(), "backwards.json", &s)?;
    let o = ucc(&[
        "--session",
        &sp.display().to_string(),
        "--tariff",
        &real_world("step_size/tariff.json"),
    ])?;
    one_line_failure(&o, "backwards.json: timestampEnd:");
    Ok(())
}
