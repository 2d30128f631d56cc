//! `aws-sm:NAME_OR_ARN[#KEY]`: AWS Secrets Manager `GetSecretValue` with the function's
//! own credentials (the Lambda role). `#KEY` picks a string field of a JSON secret.
//!
//! The client is configured like every AWS SDK (region, credentials, and the endpoint
//! override `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL`). With an endpoint
//! override (moto in tests) a missing region defaults to `eu-north-1` and missing
//! credentials to dummy ones, as for DynamoDB Local.

use std::time::Duration;

use aws_sdk_secretsmanager::config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::Client;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::SecretError;

pub const SCHEME: &str = "aws-sm:";

const LOCAL_REGION: &str = "eu-north-1";

/// Error codes that mean "ask again later" rather than "this will never work".
const TRANSIENT_CODES: [&str; 3] = [
    "ThrottlingException",
    "InternalServiceError",
    "RequestLimitExceeded",
];

/// `NAME_OR_ARN[#KEY]` split; secret names and ARNs cannot contain `#`.
pub fn parse(rest: &str) -> Option<(&str, Option<&str>)> {
    let (id, key) = match rest.split_once('#') {
        Some((id, key)) => (id, Some(key)),
        None => (rest, None),
    };
    let id_ok = !id.is_empty() && !id.chars().any(char::is_whitespace);
    (id_ok && key.is_none_or(|k| !k.is_empty())).then_some((id, key))
}

async fn client() -> &'static Client {
    static CLIENT: OnceCell<Client> = OnceCell::const_new();
    CLIENT
        .get_or_init(|| async {
            let set = |n: &str| std::env::var_os(n).is_some_and(|v| !v.is_empty());
            let endpoint_override =
                set("AWS_ENDPOINT_URL_SECRETS_MANAGER") || set("AWS_ENDPOINT_URL");
            let timeouts = TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(15))
                .build();
            let mut loader =
                aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
            if endpoint_override {
                if !set("AWS_REGION") && !set("AWS_DEFAULT_REGION") && !set("AWS_PROFILE") {
                    loader = loader.region(Region::new(LOCAL_REGION));
                }
                if !set("AWS_ACCESS_KEY_ID") && !set("AWS_PROFILE") {
                    loader = loader.credentials_provider(Credentials::new(
                        "ucc-local",
                        "ucc-local",
                        None,
                        None,
                        "ucc-secrets-local",
                    ));
                }
            }
            Client::new(&loader.load().await)
        })
        .await
}

/// The secret's value (or its `#KEY` field); errors name the reference only.
pub async fn fetch(reference: &str, rest: &str) -> Result<String, SecretError> {
    let invalid = |reason: &str| SecretError::Invalid {
        reference: reference.to_owned(),
        reason: reason.to_owned(),
    };
    let (id, key) = parse(rest).ok_or_else(|| invalid("expected aws-sm:NAME_OR_ARN[#KEY]"))?;
    let answer = client().await.get_secret_value().secret_id(id).send().await;
    let out = match answer {
        Ok(out) => out,
        Err(SdkError::ServiceError(e)) => {
            let code = e.err().code().unwrap_or("unknown").to_owned();
            let reason = format!("Secrets Manager refused GetSecretValue ({code})");
            return Err(if TRANSIENT_CODES.contains(&code.as_str()) {
                SecretError::Unavailable {
                    reference: reference.to_owned(),
                    reason,
                }
            } else {
                SecretError::Refused {
                    reference: reference.to_owned(),
                    reason,
                }
            });
        }
        Err(e) => {
            return Err(SecretError::Unavailable {
                reference: reference.to_owned(),
                reason: format!("Secrets Manager not reached: {}", short(&e)),
            })
        }
    };
    let Some(text) = out.secret_string() else {
        return Err(SecretError::Refused {
            reference: reference.to_owned(),
            reason: "the secret has no string value (binary secrets are not supported)".into(),
        });
    };
    match key {
        None => Ok(text.to_owned()),
        Some(key) => pick_key(reference, text, key),
    }
}

/// The string (or number) under `key` of a JSON object secret. Parse errors are not
/// quoted: serde's messages may contain parts of the value.
pub fn pick_key(reference: &str, text: &str, key: &str) -> Result<String, SecretError> {
    let refused = |reason: String| SecretError::Refused {
        reference: reference.to_owned(),
        reason,
    };
    let v: Value = serde_json::from_str(text).map_err(|_| {
        refused("the secret is not a JSON object, so #KEY cannot pick from it".into())
    })?;
    match v.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(refused(format!(
            "key {key:?} of the secret is not a string"
        ))),
        None => Err(refused(format!("the secret has no key {key:?}"))),
    }
}

fn short(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        assert_eq!(parse("ucc/nordlys"), Some(("ucc/nordlys", None)));
        assert_eq!(
            parse(
                "arn:aws:secretsmanager:eu-north-1:123456789012:secret:ucc/x-AbCdEf#clientSecret"
            ),
            Some((
                "arn:aws:secretsmanager:eu-north-1:123456789012:secret:ucc/x-AbCdEf",
                Some("clientSecret")
            ))
        );
        assert_eq!(parse(""), None);
        assert_eq!(parse("name#"), None);
        assert_eq!(parse("#key"), None);
        assert_eq!(parse("has space"), None);
    }

    #[test]
    fn keys_are_picked_without_quoting_the_value() {
        let r = "aws-sm:x#k";
        assert_eq!(pick_key(r, r#"{"k":"v1","o":1}"#, "k"), Ok("v1".into()));
        assert_eq!(pick_key(r, r#"{"k":42}"#, "k"), Ok("42".into()));
        for (text, key) in [
            ("hunter2-not-json", "k"),
            (r#"{"k":["hunter2"]}"#, "k"),
            (r#"{"other":"hunter2"}"#, "k"),
        ] {
            let e = pick_key(r, text, key)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(r), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
}
