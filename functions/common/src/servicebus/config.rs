//! `UCC_SERVICEBUS_*` configuration (SPEC §10). A missing or invalid variable is one line
//! naming it; secret values are resolved later, at the moment of use.

use std::time::Duration;

/// How the connector authenticates to Service Bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Shared access signature: key name and a secret reference to the key.
    Sas { key_name: String, key_ref: String },
    /// Entra client credentials, scope `https://servicebus.azure.net/.default`.
    Entra {
        tenant_id: String,
        client_id: String,
        secret_ref: String,
        /// `https://login.microsoftonline.com` unless `UCC_SERVICEBUS_AUTHORITY_HOST`.
        authority: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `https://NAMESPACE.servicebus.windows.net` (no trailing slash).
    pub endpoint: String,
    /// `TOPIC/subscriptions/SUBSCRIPTION`.
    pub entity: String,
    pub auth: Auth,
    /// Concurrent receive loops (`UCC_SERVICEBUS_LOOPS`, default 4).
    pub loops: usize,
    /// Long-poll timeout of one receive (`UCC_SERVICEBUS_RECEIVE_TIMEOUT`, seconds, default 10).
    pub receive_timeout: Duration,
    /// HTTP timeout of one call beyond the long poll.
    pub http_timeout: Duration,
}

pub const DEFAULT_LOOPS: usize = 4;
pub const SCOPE: &str = "https://servicebus.azure.net/.default";

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, String> {
        Self::from_lookup(|n| std::env::var(n).ok())
    }

    /// Reads the configuration through `var` (tests pass a map).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let get = |n: &str| {
            var(n)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let need = |n: &str| get(n).ok_or_else(|| format!("{n} is not set"));
        let endpoint = need("UCC_SERVICEBUS_ENDPOINT")?
            .trim_end_matches('/')
            .to_owned();
        check_endpoint(&endpoint)?;
        let entity = need("UCC_SERVICEBUS_ENTITY")?.trim_matches('/').to_owned();
        let parts: Vec<&str> = entity.split('/').collect();
        if parts.len() != 3
            || parts[1] != "subscriptions"
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.chars().all(entity_char))
        {
            return Err(format!(
                "UCC_SERVICEBUS_ENTITY {entity:?} is not TOPIC/subscriptions/SUBSCRIPTION"
            ));
        }
        let auth = match (
            get("UCC_SERVICEBUS_SAS_KEY_NAME"),
            get("UCC_SERVICEBUS_TENANT_ID"),
        ) {
            (Some(key_name), None) => Auth::Sas {
                key_name,
                key_ref: need("UCC_SERVICEBUS_SAS_KEY_REF")?,
            },
            (None, Some(tenant_id)) => Auth::Entra {
                tenant_id,
                client_id: need("UCC_SERVICEBUS_CLIENT_ID")?,
                secret_ref: need("UCC_SERVICEBUS_CLIENT_SECRET_REF")?,
                authority: get("UCC_SERVICEBUS_AUTHORITY_HOST")
                    .unwrap_or_else(|| "https://login.microsoftonline.com".into())
                    .trim_end_matches('/')
                    .to_owned(),
            },
            (Some(_), Some(_)) => {
                return Err(
                    "UCC_SERVICEBUS_SAS_KEY_NAME and UCC_SERVICEBUS_TENANT_ID are both \
                            set: choose SAS or Entra"
                        .into(),
                )
            }
            (None, None) => {
                return Err(
                    "UCC_SERVICEBUS_SAS_KEY_NAME (with UCC_SERVICEBUS_SAS_KEY_REF) or \
                            UCC_SERVICEBUS_TENANT_ID (with UCC_SERVICEBUS_CLIENT_ID and \
                            UCC_SERVICEBUS_CLIENT_SECRET_REF) must be set"
                        .into(),
                )
            }
        };
        let loops = match get("UCC_SERVICEBUS_LOOPS") {
            None => DEFAULT_LOOPS,
            Some(v) => match v.parse::<usize>() {
                Ok(n @ 1..=64) => n,
                _ => return Err(format!("UCC_SERVICEBUS_LOOPS {v:?} is not a number 1..=64")),
            },
        };
        let receive_timeout = match get("UCC_SERVICEBUS_RECEIVE_TIMEOUT") {
            None => Duration::from_secs(10),
            Some(v) => match v.parse::<u64>() {
                Ok(n @ 1..=230) => Duration::from_secs(n),
                _ => {
                    return Err(format!(
                        "UCC_SERVICEBUS_RECEIVE_TIMEOUT {v:?} is not a number of seconds 1..=230"
                    ))
                }
            },
        };
        Ok(Config {
            endpoint,
            entity,
            auth,
            loops,
            receive_timeout,
            http_timeout: Duration::from_secs(30),
        })
    }

    /// `{endpoint}/{entity}`: the SAS resource URI and the base of every call.
    pub fn entity_url(&self) -> String {
        format!("{}/{}", self.endpoint, self.entity)
    }
}

fn entity_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')
}

/// `https://…`, or plain `http://` for a loopback host only.
fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("UCC_SERVICEBUS_ENDPOINT {endpoint:?}: {why}"));
    let Ok(u) = url::Url::parse(endpoint) else {
        return bad("not a URL (https://NAMESPACE.servicebus.windows.net)");
    };
    if u.path() != "/" && !u.path().is_empty() || u.query().is_some() {
        return bad("must be the namespace URL, without a path");
    }
    match u.scheme() {
        "https" => Ok(()),
        "http" => match u.host() {
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Domain("localhost")) => Ok(()),
            _ => bad("plain http is allowed for loopback only"),
        },
        _ => bad("must be https://"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|n| m.get(n).cloned())
    }

    const BASE: [(&str, &str); 4] = [
        (
            "UCC_SERVICEBUS_ENDPOINT",
            "https://ns.servicebus.windows.net",
        ),
        ("UCC_SERVICEBUS_ENTITY", "contracts/subscriptions/ucc"),
        ("UCC_SERVICEBUS_SAS_KEY_NAME", "listen"),
        ("UCC_SERVICEBUS_SAS_KEY_REF", "env:K"),
    ];

    #[test]
    fn sas_config_reads() {
        let c = cfg(&BASE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.loops, DEFAULT_LOOPS);
        assert_eq!(
            c.entity_url(),
            "https://ns.servicebus.windows.net/contracts/subscriptions/ucc"
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let e = cfg(&BASE[1..]).err().unwrap_or_default();
        assert!(e.contains("UCC_SERVICEBUS_ENDPOINT"), "{e}");
        let mut v = BASE.to_vec();
        v[0].1 = "http://ns.servicebus.windows.net";
        let e = cfg(&v).err().unwrap_or_default();
        assert!(e.contains("loopback"), "{e}");
        v[0].1 = "http://127.0.0.1:9000";
        assert!(cfg(&v).is_ok());
        v[1].1 = "contracts";
        let e = cfg(&v).err().unwrap_or_default();
        assert!(e.contains("UCC_SERVICEBUS_ENTITY"), "{e}");
        let e = cfg(&BASE[..3]).err().unwrap_or_default();
        assert!(e.contains("UCC_SERVICEBUS_SAS_KEY_REF"), "{e}");
        let e = cfg(&BASE[..2]).err().unwrap_or_default();
        assert!(e.contains("UCC_SERVICEBUS_TENANT_ID"), "{e}");
    }
}
