use ucc_shared::contract;
use ucc_shared::delivery::intake;
use ucc_shared::parked::{self, MessageKind, ParkedMessage};

use super::{ctx, gln, CmdResult};
use crate::output::{print_json, table};

pub async fn list(store: &str, tenant: Option<&str>, json: bool) -> CmdResult {
    let tenant = tenant.map(gln).transpose()?;
    let ctx = ctx(store).await?;
    let items = parked::list(ctx.store.as_ref(), tenant.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    if json {
        return print_json(&items);
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.parked_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                p.reason.as_str().into(),
                p.reference_id.clone().unwrap_or_default(),
                short(&p.description, 90),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["ID", "PARKED (UTC)", "REASON", "REFERENCE", "DESCRIPTION"],
            &rows
        )
    );
    Ok(())
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn show_text(p: &ParkedMessage) {
    println!("Id           {}", p.id);
    println!(
        "Tenant       {}",
        p.tenant
            .as_ref()
            .map_or("(unrouted)".into(), |g| g.to_string())
    );
    if let Some(n) = &p.named_tenant {
        println!("Named tenant {n}");
    }
    println!("Kind         {:?}", p.kind);
    println!("Reason       {}", p.reason);
    println!("Description  {}", p.description);
    println!("Parked at    {}", p.parked_at.to_rfc3339());
    println!(
        "Body         {} bytes{}",
        p.body_bytes,
        if p.body_truncated {
            " (kept truncated)"
        } else {
            ""
        }
    );
    println!("Properties   {}", p.properties);
    println!("{}", p.body);
}

pub async fn show(store: &str, id: &str, json: bool) -> CmdResult {
    let ctx = ctx(store).await?;
    let p = parked::get(ctx.store.as_ref(), id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no parked message with id {id:?}"))?;
    if json {
        return print_json(&p);
    }
    show_text(&p);
    Ok(())
}

pub async fn replay(store: &str, id: &str, json: bool) -> CmdResult {
    let d = super::deliverer(store).await?;
    let p = parked::get(d.ctx.store.as_ref(), id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no parked message with id {id:?}"))?;
    let (name, reason, value) = match p.kind {
        MessageKind::Contract => {
            let h = contract::replay(&d.ctx, id)
                .await
                .map_err(|e| format!("replay of {id} failed, it stays parked: {e}"))??;
            (
                h.outcome.name(),
                h.outcome.reason(),
                serde_json::to_value(&h),
            )
        }
        MessageKind::Session => {
            let h = intake::replay(&d, &p)
                .await
                .map_err(|e| format!("replay of {id} failed, it stays parked: {e}"))??;
            (
                h.outcome.name(),
                h.outcome.reason(),
                serde_json::to_value(&h),
            )
        }
    };
    if json {
        return print_json(&value.map_err(|e| e.to_string())?);
    }
    match reason {
        Some(r) => println!("{id}: {name} ({r})"),
        None => println!("{id}: {name}"),
    }
    Ok(())
}
