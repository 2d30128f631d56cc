use std::path::Path;

use ucc_shared::registry;
use ucc_shared::tenant::TenantConfig;

use super::{ctx, gln, CmdResult};
use crate::output::{print_json, table};

pub fn load_config(file: &Path) -> Result<TenantConfig, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    TenantConfig::from_json(&bytes).map_err(|e| format!("{}: {e}", file.display()))
}

pub async fn put(store: &str, file: &Path) -> CmdResult {
    let cfg = load_config(file)?;
    let ctx = ctx(store).await?;
    let created = registry::put(ctx.store.as_ref(), &cfg)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    println!(
        "{} tenant {} ({}, {})",
        if created { "created" } else { "updated" },
        cfg.gln,
        cfg.name,
        cfg.mode
    );
    Ok(())
}

pub async fn get(store: &str, raw: &str, json: bool) -> CmdResult {
    let (ctx, stored) = super::tenant(store, raw).await?;
    // As it reads now: after a migration's cutover, costedTransaction with migratedAt.
    let cfg = ucc_shared::migration::as_of(&stored, ctx.now());
    if json {
        return print_json(&cfg);
    }
    println!("GLN                     {}", cfg.gln);
    println!("Name                    {}", cfg.name);
    println!("Customer id             {}", cfg.customer_id);
    println!("Mode                    {}", cfg.mode);
    println!("UC base URL             {}", cfg.uc.base_url);
    println!(
        "Client secret           {} (reference)",
        cfg.uc.client_secret_ref
    );
    println!("Accounting point rule   {}", cfg.accounting_point_pattern);
    println!("Virtual token prefix    {}", cfg.virtual_token_prefix);
    println!(
        "Default site            {}",
        cfg.default_site_id.map_or("-".into(), |s| s.to_string())
    );
    println!("Product sites           {}", cfg.product_sites.len());
    if let Some(c) = &cfg.currency {
        println!(
            "Currency / VAT          {c} / {}% ({})",
            cfg.vat_percent.map_or("-".into(), |v| v.to_string()),
            if cfg.prices_include_vat {
                "prices incl. VAT"
            } else {
                "prices excl. VAT"
            }
        );
    }
    println!("Tariffs                 {}", cfg.tariffs.len());
    if let Some(m) = &cfg.migration {
        println!(
            "Migration               to {} at {} (scheduled {})",
            m.to,
            ucc_shared::migration::rfc3339(m.cutover),
            ucc_shared::migration::rfc3339(m.scheduled_at)
        );
    }
    if let Some(at) = cfg.migrated_at {
        println!(
            "Migrated at             {}",
            ucc_shared::migration::rfc3339(at)
        );
    }
    Ok(())
}

pub async fn list(store: &str, json: bool) -> CmdResult {
    let ctx = ctx(store).await?;
    let tenants = registry::list(ctx.store.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    if json {
        return print_json(&tenants);
    }
    let rows: Vec<Vec<String>> = tenants
        .iter()
        .map(|t| {
            vec![
                t.gln.to_string(),
                t.customer_id.clone(),
                t.mode.to_string(),
                t.name.clone(),
            ]
        })
        .collect();
    print!("{}", table(&["GLN", "CUSTOMER", "MODE", "NAME"], &rows));
    Ok(())
}

/// A stored tenant's pricing settings, for `ucc price --tenant GLN`.
pub async fn pricing(store: &str, raw: &str) -> Result<crate::price::TenantPricing, String> {
    let g = gln(raw)?;
    let ctx = ctx(store).await?;
    let cfg = registry::get(ctx.store.as_ref(), &g)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no tenant with GLN {g} in this store"))?;
    let mut settings = ucc_shared::pricing::InvoiceSettings::default();
    if let Some(c) = &cfg.currency {
        settings.currency = c.clone();
    }
    if let Some(v) = cfg.vat_percent {
        settings.vat_percent = v;
    }
    settings.prices_include_vat = cfg.prices_include_vat;
    if let Some(tz) = &cfg.time_zone {
        settings.time_zone = tz
            .parse()
            .map_err(|_| format!("timeZone {tz:?} is not an IANA zone"))?;
    }
    Ok(crate::price::TenantPricing {
        settings,
        tariffs: cfg.parsed_tariffs().map_err(|e| e.to_string())?,
        site_tariffs: cfg.site_tariffs.clone(),
    })
}
