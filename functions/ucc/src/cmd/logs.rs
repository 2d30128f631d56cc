use chrono::{DateTime, Duration, Utc};
use ucc_functions::admin::logs::{self, LogFilter};
use ucc_shared::log::{self as log_store, LogEntry};

use super::{ctx, gln, CmdResult};
use crate::output::{print_json, table};

#[derive(clap::Args)]
pub struct LogsArgs {
    #[arg(long)]
    tenant: Option<String>,
    /// Entries of messages that could not be routed to a tenant.
    #[arg(long, conflicts_with = "tenant")]
    unrouted: bool,
    /// Only entries at or after this time: RFC 3339, or an age such as 30m, 1h, 7d.
    #[arg(long)]
    since: Option<String>,
    /// Only entries before this time (same forms as --since).
    #[arg(long)]
    until: Option<String>,
    /// Only this action (e.g. ContractActivated, InvoiceLineImport, Token).
    #[arg(long)]
    action: Option<String>,
    /// A response code (404) or class (4xx).
    #[arg(long)]
    status: Option<String>,
    /// Reference id: accounting point or transaction id.
    #[arg(long = "ref")]
    reference: Option<String>,
    /// Free text searched in payloads and responses.
    #[arg(long)]
    grep: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

/// `30m`, `1h`, `7d` ago, or an RFC 3339 instant.
pub fn parse_time(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let (num, unit) = raw.split_at(
        raw.trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .len(),
    );
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{raw:?} is neither an RFC 3339 time nor an age like 30m, 1h, 7d"))?;
    let d = match unit {
        "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => return Err(format!("{raw:?}: unit must be s, m, h or d")),
    };
    Ok(now - d)
}

/// The API's status syntax, with the CLI's wording for errors.
fn parse_status(raw: &str) -> Result<(u16, u16), String> {
    logs::parse_status(raw)
        .ok_or_else(|| format!("--status {raw:?}: give a code (404) or a class (4xx)"))
}

pub async fn run(store: &str, a: &LogsArgs) -> CmdResult {
    let tenant = match (&a.tenant, a.unrouted) {
        (Some(t), _) => Some(gln(t)?),
        (None, true) => None,
        (None, false) => return Err("give --tenant GLN (or --unrouted)".into()),
    };
    let now = Utc::now();
    // The very filter the admin API's Logs route applies, so both answer the same question.
    let filter = LogFilter {
        from: a.since.as_deref().map(|s| parse_time(s, now)).transpose()?,
        to: a.until.as_deref().map(|s| parse_time(s, now)).transpose()?,
        action: a.action.clone(),
        status: a.status.as_deref().map(parse_status).transpose()?,
        reference: a.reference.clone(),
        text: a.grep.clone(),
    };
    let ctx = ctx(store).await?;
    let mut out: Vec<LogEntry> = Vec::new();
    let mut cursor = None;
    'pages: loop {
        let (entries, next) = log_store::list(ctx.store.as_ref(), tenant.as_ref(), 200, cursor)
            .await
            .map_err(|e| e.to_string())?;
        for e in entries {
            // Newest first: once past --since, nothing older can match.
            if filter.from.is_some_and(|t| e.time < t) {
                break 'pages;
            }
            if filter.keeps(&e) {
                out.push(e);
                if out.len() >= a.limit {
                    break 'pages;
                }
            }
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    if a.json {
        return print_json(&out);
    }
    let rows: Vec<Vec<String>> = out
        .iter()
        .map(|e| {
            vec![
                e.time.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
                format!("{:?}", e.direction).to_lowercase(),
                e.action.clone(),
                e.response_code.to_string(),
                e.outcome.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                e.reference_id.clone().unwrap_or_default(),
                format!("{} ms", e.duration_ms),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "TIME (UTC)",
                "DIR",
                "ACTION",
                "CODE",
                "OUTCOME",
                "REASON",
                "REFERENCE",
                "DURATION"
            ],
            &rows
        )
    );
    // Failed requests are what an operator reads logs for: show what was sent and what came
    // back, in full, under the table (--json has every payload).
    for e in out.iter().filter(|e| e.response_code >= 400) {
        println!(
            "\n── {} {} {} {}",
            e.time.format("%Y-%m-%d %H:%M:%S%.3f"),
            e.action,
            e.response_code,
            e.reference_id.as_deref().unwrap_or("-")
        );
        println!("request:  {}", e.request_payload);
        if let Some(b) = &e.response_body {
            println!("response: {b}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_and_codes() {
        assert_eq!(parse_status("4xx"), Ok((400, 499)));
        assert_eq!(parse_status("404"), Ok((404, 404)));
        assert!(parse_status("9xx").is_err());
        assert!(parse_status("abc").is_err());
    }

    #[test]
    fn ages_and_instants() {
        let now = Utc::now();
        assert_eq!(parse_time("1h", now), Ok(now - Duration::hours(1)));
        assert!(parse_time("1y", now).is_err());
        assert!(parse_time("2026-11-20T08:00:00Z", now).is_ok());
    }
}
