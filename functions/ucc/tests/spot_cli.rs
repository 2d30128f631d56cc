//! SPEC §13 as a new user meets it, with the real binary: import a day-ahead document and
//! the ECB rates, look at the day, price a session with `--explain` and read the
//! per-interval table; a missing price exits 1 naming the interval; a malformed document is
//! refused naming the element and stores nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type R = Result<(), Box<dyn std::error::Error>>;

fn example(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/nordlys")
        .join(rel)
        .display()
        .to_string()
}

fn ucc(store: &Path, args: &[&str]) -> Result<Output, std::io::Error> {
    Command::new(env!("CARGO_BIN_EXE_ucc"))
        .args(args)
        .env("UCC_STORE", store)
        .output()
}

fn ok(o: &Output) -> Result<String, Box<dyn std::error::Error>> {
    if !o.status.success() {
        return Err(format!("ucc failed: {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    Ok(String::from_utf8(o.stdout.clone())?)
}

fn store_dir() -> Result<(tempfile::TempDir, PathBuf), std::io::Error> {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("state");
    Ok((dir, store))
}

#[test]
fn import_show_and_price_with_the_per_interval_explanation() -> R {
    let (_dir, store) = store_dir()?;
    let session = example("spot/session-eirik-fall-back-night.json");
    let tenant = example("spot/tenant-fjordlys-spot.json");

    // Before any import: exit 1, one line naming the first missing interval.
    let o = ucc(
        &store,
        &[
            "price",
            "--session",
            &session,
            "--tenant",
            &tenant,
            "--explain",
        ],
    )?;
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("NO1 interval 2026-10-24T23:30Z"), "{err}");

    let out = ok(&ucc(
        &store,
        &["spot", "import", &example("spot/a44-2026-10-25.xml")],
    )?)?;
    assert!(
        out.contains("NO1 2026-10-25: 100 of 100 intervals"),
        "{out}"
    );
    let out = ok(&ucc(
        &store,
        &[
            "spot",
            "rates",
            "import",
            &example("spot/ecb-2026-10-23.xml"),
        ],
    )?)?;
    assert!(out.contains("latest 2026-10-23"), "{out}");

    let v = show_no1_fall_back_day(&store)?;
    assert_eq!(v["expectedIntervals"], 100);
    assert_eq!(v["storedIntervals"], 100);
    assert_eq!(v["intervals"][0]["start"], "2026-10-24T22:00:00Z");
    assert_eq!(v["intervals"][99]["start"], "2026-10-25T22:45:00Z");

    let text = ok(&ucc(
        &store,
        &[
            "price",
            "--session",
            &session,
            "--tenant",
            &tenant,
            "--explain",
        ],
    )?)?;
    assert!(text.contains("spot intervals (NO1"), "{text}");
    // The first quarter (local 01:40–01:45 CEST): 0.55 kWh at 39.80 EUR/MWh × 11.7250 + 0.12.
    let row = text
        .lines()
        .find(|l| l.starts_with("2026-10-25 01:40+02:00"))
        .ok_or("no row for the first quarter")?;
    for cell in [
        "0.5500", "39.80", "11.7250", "0.466655", "0.12", "0.586655", "0.3227",
    ] {
        assert!(row.contains(cell), "{row} lacks {cell}");
    }
    // The repeated hour shows both 02:00s, told apart by their offsets; a negative price.
    assert!(text.contains("2026-10-25 02:00+02:00") && text.contains("2026-10-25 02:00+01:00"));
    assert!(text.contains("-2.35"));
    assert!(
        text.contains("invoice: 4.97 excl. VAT + 1.24 VAT (25%) = 6.21 incl. VAT NOK"),
        "{text}"
    );
    Ok(())
}

/// `ucc spot show --area NO1 --day 2026-10-25 --json`, parsed.
fn show_no1_fall_back_day(store: &Path) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let json = ok(&ucc(
        store,
        &[
            "spot",
            "show",
            "--area",
            "NO1",
            "--day",
            "2026-10-25",
            "--json",
        ],
    )?)?;
    Ok(serde_json::from_str(&json)?)
}

#[test]
fn a_malformed_document_is_refused_naming_the_element_and_stores_nothing() -> R {
    let (dir, store) = store_dir()?;
    let good = std::fs::read_to_string(example("spot/a44-2026-10-25.xml"))?;
    // The second TimeSeries (SE3) is broken; the first (NO1) must not be stored either.
    let bad = good.replacen(
        "<resolution>PT60M</resolution>",
        "<resolution>PT30M</resolution>",
        1,
    );
    let path = dir.path().join("bad.xml");
    std::fs::write(&path, bad)?;
    let o = ucc(&store, &["spot", "import", &path.display().to_string()])?;
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("TimeSeries[2]/Period[1]/resolution"), "{err}");
    let v = show_no1_fall_back_day(&store)?;
    assert_eq!(v["storedIntervals"], 0);
    Ok(())
}
