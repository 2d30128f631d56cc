//! The admin API's tenant actions on the command line (CLI parity with SPEC §7): Details,
//! API-key rotation, advanced settings. Same core functions as the HTTP handlers.

use std::io::Read;
use std::path::Path;

use ucc_functions::admin::tenants::{merge_settings, settings_view};
use ucc_shared::details::details_view;
use ucc_shared::{apikey, registry};

use super::{ctx, gln, CmdResult};
use crate::output::print_json;

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "-".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn status(store: &str, raw: &str, json: bool) -> CmdResult {
    let (ctx, cfg) = super::tenant(store, raw).await?;
    let v = details_view(ctx.store.as_ref(), &cfg, false, None, ctx.now())
        .await
        .map_err(|e| e.to_string())?;
    if json {
        return print_json(&v);
    }
    println!("GLN             {}", text(&v["gln"]));
    println!("Name            {}", text(&v["name"]));
    println!("Mode            {}", text(&v["mode"]));
    println!(
        "Status          {}{}",
        text(&v["status"]),
        v["statusReason"]
            .as_str()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    println!(
        "Last delivery   {}",
        match &v["lastDelivery"] {
            serde_json::Value::Null => "-".into(),
            l => format!(
                "{} at {}",
                text(&l["transactionId"]),
                text(&l["deliveredAt"])
            ),
        }
    );
    println!(
        "Pending         {}\nRejected        {}\nHeld            {}\nParked          {}",
        v["counts"]["pending"], v["counts"]["rejected"], v["counts"]["held"], v["counts"]["parked"]
    );
    println!(
        "API key         {}",
        match &v["apiKey"] {
            serde_json::Value::Null => "none (rotate one with ucc tenant api-key rotate)".into(),
            k => format!("{} (created {})", text(&k["masked"]), text(&k["createdAt"])),
        }
    );
    println!("Log retention   {} days", v["logRetentionDays"]);
    let m = &v["migration"];
    match m["state"].as_str() {
        Some("scheduled") => println!(
            "Migration       to {} at {} (scheduled {})",
            text(&m["to"]),
            text(&m["cutover"]),
            text(&m["scheduledAt"])
        ),
        Some("done") => println!(
            "Migration       {} since {}",
            text(&m["to"]),
            text(&m["migratedAt"])
        ),
        _ => {}
    }
    Ok(())
}

pub async fn rotate_key(store: &str, raw: &str, json: bool) -> CmdResult {
    let g = gln(raw)?;
    let ctx = ctx(store).await?;
    let key = apikey::rotate(ctx.store.as_ref(), &g, chrono::Utc::now())
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no tenant with GLN {g}"))?;
    if json {
        return print_json(&serde_json::json!({ "apiKey": key }));
    }
    println!("{key}");
    eprintln!("ucc: this is the only time the key is shown; the previous key no longer works");
    Ok(())
}

pub async fn settings_get(store: &str, raw: &str, json: bool) -> CmdResult {
    let (_, cfg) = super::tenant(store, raw).await?;
    let v = settings_view(&cfg);
    if json {
        return print_json(&v);
    }
    if let serde_json::Value::Object(m) = &v {
        for (k, val) in m {
            let shown = match val {
                serde_json::Value::Array(a) => format!("{} item(s)", a.len()),
                serde_json::Value::Object(o) if o.len() > 3 => format!("{} entries", o.len()),
                other => text(other),
            };
            println!("{k:<24}{shown}");
        }
    }
    Ok(())
}

/// Applies a settings file (or stdin) exactly as `PUT /api/tenants/{gln}/settings` does.
pub async fn settings_put(store: &str, raw: &str, file: Option<&Path>, json: bool) -> CmdResult {
    let g = gln(raw)?;
    let (name, bytes) = match file {
        Some(f) => (
            f.display().to_string(),
            std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?,
        ),
        None => {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .map_err(|e| format!("stdin: {e}"))?;
            ("stdin".to_owned(), b)
        }
    };
    let patch: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{name}: {e}"))?;
    let ctx = ctx(store).await?;
    let (cfg, version) = registry::get_versioned(ctx.store.as_ref(), &g)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no tenant with GLN {g}"))?;
    let next = merge_settings(&cfg, &patch).map_err(|e| format!("{name}: {e}"))?;
    registry::put_if_version(ctx.store.as_ref(), &next, version)
        .await
        .map_err(|e| format!("tenant {g} changed meanwhile, nothing written; try again ({e})"))?;
    if json {
        return print_json(&settings_view(&next));
    }
    println!("updated settings of tenant {g}");
    Ok(())
}
