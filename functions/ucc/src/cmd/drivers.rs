use ucc_shared::contract::driver::DriverRecord;
use ucc_shared::contract::handler::driver_key;
use ucc_shared::keys;
use ucc_shared::store::{Query, Store};

use super::{ctx, gln, CmdResult};
use crate::output::{print_json, table};

/// Tokens as one table cell: `value (kind[, inactive])`.
pub fn tokens_cell(d: &DriverRecord) -> String {
    d.state
        .tokens
        .iter()
        .map(|t| {
            let inactive = if t.active { "" } else { ", inactive" };
            format!("{} ({}{inactive})", t.value, t.kind.as_str())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn all(store: &dyn Store, pk: String) -> Result<Vec<DriverRecord>, String> {
    let mut q = Query::prefix(pk, "");
    q.range = ucc_shared::store::SkRange::Between(" ".into(), "\u{10FFFF}".into());
    Ok(ucc_shared::store::query_all(store, q)
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .filter_map(|i| serde_json::from_str(&i.doc).ok())
        .collect())
}

pub async fn list(store: &str, tenant: &str, json: bool) -> CmdResult {
    let g = gln(tenant)?;
    let ctx = ctx(store).await?;
    let drivers = all(ctx.store.as_ref(), keys::tenant(&g, keys::DRIVERS)).await?;
    if json {
        return print_json(
            &drivers
                .iter()
                .map(|r| r.operator_view())
                .collect::<Vec<_>>(),
        );
    }
    let rows: Vec<Vec<String>> = drivers
        .iter()
        .map(|d| {
            let tokens = tokens_cell(d);
            vec![
                d.external_id.clone(),
                if d.state.active { "active" } else { "inactive" }.into(),
                d.state.site_id.map_or("-".into(), |s| s.to_string()),
                d.state.product_code.clone().unwrap_or_else(|| "-".into()),
                tokens,
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["ACCOUNTING POINT", "STATUS", "SITE", "PRODUCT", "TOKENS"],
            &rows
        )
    );
    Ok(())
}

pub async fn get(store: &str, tenant: &str, ap: &str, json: bool) -> CmdResult {
    let g = gln(tenant)?;
    let ctx = ctx(store).await?;
    let item = ctx
        .store
        .get(&driver_key(&g, ap))
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("tenant {g} has no driver with accounting point {ap:?}"))?;
    let rec: DriverRecord =
        serde_json::from_str(&item.doc).map_err(|e| format!("stored driver is unreadable: {e}"))?;
    if json {
        return print_json(&rec.operator_view());
    }
    println!("Accounting point  {}", rec.external_id);
    println!(
        "Status            {}",
        if rec.state.active {
            "active"
        } else {
            "inactive"
        }
    );
    println!(
        "Site              {}",
        rec.state.site_id.map_or("-".into(), |s| s.to_string())
    );
    println!(
        "Product           {}",
        rec.state.product_code.as_deref().unwrap_or("-")
    );
    if let Some(e) = &rec.state.last_event {
        println!(
            "Last event        {} {} at {}",
            e.event_name.as_str(),
            e.event_id,
            e.event_time.to_rfc3339()
        );
    }
    println!("Tokens:");
    for t in &rec.state.tokens {
        println!(
            "  {:<28} {:<8} {}{}",
            t.value,
            t.kind.as_str(),
            if t.active { "active" } else { "inactive" },
            t.name
                .as_deref()
                .map(|n| format!("  \"{n}\""))
                .unwrap_or_default()
        );
    }
    Ok(())
}
