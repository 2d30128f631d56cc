//! `keyvault:https://VAULT.vault.azure.net/secrets/NAME[/VERSION]`: the Key Vault REST API
//! (`GET …?api-version=7.4`, answer `{"value": "…"}`) with a bearer token of the Function
//! App's managed identity (`IDENTITY_ENDPOINT`, `X-IDENTITY-HEADER: $IDENTITY_HEADER`,
//! resource `https://vault.azure.net`). Only https, except plain http to a loopback host
//! (the test stand-in).

use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;
use url::{Host, Url};

use super::{Secret, SecretError};

pub const SCHEME: &str = "keyvault:";
pub const API_VERSION: &str = "7.4";
pub const RESOURCE: &str = "https://vault.azure.net";
/// An identity token is renewed this long before it expires.
const TOKEN_MARGIN_S: i64 = 300;

/// The URL to GET for a reference (after `keyvault:`), or why it is not one.
pub fn secret_url(rest: &str) -> Result<Url, String> {
    let url = Url::parse(rest).map_err(|_| "not a URL".to_owned())?;
    let loopback = match url.host() {
        Some(Host::Ipv4(a)) => a.is_loopback(),
        Some(Host::Ipv6(a)) => a.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("a Key Vault URL must be https".into()),
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err("expected https://VAULT.vault.azure.net/secrets/NAME[/VERSION]".into());
    }
    let segments: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    let ok = matches!(segments.as_slice(), ["secrets", name] | ["secrets", name, _] if !name.is_empty())
        && segments.iter().all(|s| !s.is_empty());
    if !ok {
        return Err("expected https://VAULT.vault.azure.net/secrets/NAME[/VERSION]".into());
    }
    let mut url = url;
    url.query_pairs_mut()
        .append_pair("api-version", API_VERSION);
    Ok(url)
}

fn http() -> &'static reqwest::Client {
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    HTTP.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            // One call per secret every 5 minutes: no idle connections to keep, and none
            // tied to a runtime that may be gone (a process-wide client outlives runtimes).
            .pool_max_idle_per_host(0)
            .build()
            .unwrap_or_default()
    })
}

/// The managed identity's token for Key Vault, cached until shortly before it expires.
async fn identity_token(reference: &str) -> Result<Secret, SecretError> {
    static TOKEN: Mutex<Option<(String, Secret, i64)>> = Mutex::const_new(None);
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    let (Some(endpoint), Some(header)) = (var("IDENTITY_ENDPOINT"), var("IDENTITY_HEADER")) else {
        return Err(SecretError::Refused {
            reference: reference.to_owned(),
            reason: "keyvault: references need the managed identity (IDENTITY_ENDPOINT and IDENTITY_HEADER are not set)".into(),
        });
    };
    let unavailable = |reason: String| SecretError::Unavailable {
        reference: reference.to_owned(),
        reason,
    };
    let mut cached = TOKEN.lock().await;
    let now = crate::store::now_unix();
    if let Some((ep, t, exp)) = cached.as_ref() {
        if *ep == endpoint && *exp - TOKEN_MARGIN_S > now {
            return Ok(t.clone());
        }
    }
    let (token, expires_on) =
        crate::azure_identity::request_token(http(), &endpoint, &header, RESOURCE)
            .await
            .map_err(unavailable)?;
    *cached = Some((endpoint, token.clone(), expires_on));
    Ok(token)
}

/// The secret's current value; errors name the reference only.
pub async fn fetch(reference: &str, rest: &str) -> Result<String, SecretError> {
    let url = secret_url(rest).map_err(|reason| SecretError::Invalid {
        reference: reference.to_owned(),
        reason,
    })?;
    let token = identity_token(reference).await?;
    let unavailable = |reason: String| SecretError::Unavailable {
        reference: reference.to_owned(),
        reason,
    };
    let resp = http()
        .get(url)
        .bearer_auth(token.expose())
        .send()
        .await
        .map_err(|e| {
            unavailable(format!(
                "Key Vault unreachable: {}",
                chain(&e.without_url())
            ))
        })?;
    let status = resp.status().as_u16();
    let text = resp
        .text()
        .await
        .map_err(|e| unavailable(format!("Key Vault answer cut off: {}", e.without_url())))?;
    match status {
        200 => serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["value"].as_str().map(str::to_owned))
            .ok_or_else(|| SecretError::Refused {
                reference: reference.to_owned(),
                reason: "Key Vault answered without a string value".into(),
            }),
        // Key Vault's error bodies carry a code and message, never the value.
        400..=499 if status != 408 && status != 429 => Err(SecretError::Refused {
            reference: reference.to_owned(),
            reason: format!("Key Vault answered {status}{}", error_code(&text)),
        }),
        _ => Err(unavailable(format!(
            "Key Vault answered {status}{}",
            error_code(&text)
        ))),
    }
}

/// An error with its causes ("error sending request" alone says little).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s.chars().take(300).collect()
}

fn error_code(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| {
            v["error"]["code"]
                .as_str()
                .map(|c| format!(" ({})", c.chars().take(80).collect::<String>()))
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_secret_urls() {
        let u = secret_url("https://kv-ucc.vault.azure.net/secrets/nordlys").map(|u| u.to_string());
        assert_eq!(
            u.as_deref(),
            Ok("https://kv-ucc.vault.azure.net/secrets/nordlys?api-version=7.4")
        );
        assert!(secret_url("https://kv.vault.azure.net/secrets/n/0123abcd").is_ok());
        assert!(secret_url("http://127.0.0.1:1234/secrets/n").is_ok());
        assert!(secret_url("http://localhost:1234/secrets/n").is_ok());
        for bad in [
            "http://kv.vault.azure.net/secrets/n",
            "https://kv.vault.azure.net/keys/n",
            "https://kv.vault.azure.net/secrets/",
            "https://kv.vault.azure.net/secrets/n?x=1",
            "https://kv.vault.azure.net/secrets/n/v/extra",
            "https://user@kv.vault.azure.net/secrets/n",
            "kv.vault.azure.net/secrets/n",
        ] {
            assert!(secret_url(bad).is_err(), "{bad}");
        }
    }
}
