//! The Azure managed identity of a Function App (`IDENTITY_ENDPOINT`, `X-IDENTITY-HEADER`):
//! one token request, shared by the Table store and `keyvault:` secret references, each of
//! which keeps its own token until shortly before it expires.

use serde_json::Value;

use crate::uc::secrets::Secret;

/// Asks the identity endpoint for a token for `resource`; the token and its expiry (unix
/// seconds). Errors never contain the header or the token.
pub async fn request_token(
    http: &reqwest::Client,
    endpoint: &str,
    header: &str,
    resource: &str,
) -> Result<(Secret, i64), String> {
    let resp = http
        .get(endpoint)
        .query(&[("api-version", "2019-08-01"), ("resource", resource)])
        .header("X-IDENTITY-HEADER", header)
        .send()
        .await
        .map_err(|e| format!("managed identity endpoint unreachable: {}", e.without_url()))?;
    let status = resp.status().as_u16();
    let text = resp
        .text()
        .await
        .map_err(|e| format!("managed identity answer cut off: {}", e.without_url()))?;
    if status != 200 {
        return Err(format!(
            "managed identity endpoint answered {status} for a {resource} token"
        ));
    }
    parse_identity_answer(&text)
}

/// The managed identity's answer: `access_token` and `expires_on` (unix seconds, a string
/// or a number).
pub fn parse_identity_answer(text: &str) -> Result<(Secret, i64), String> {
    let v: Value =
        serde_json::from_str(text).map_err(|_| "managed identity answer is not JSON".to_owned())?;
    let token = v["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or("managed identity answer has no access_token")?;
    let expires_on = match &v["expires_on"] {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .ok_or("managed identity answer has no expires_on")?;
    Ok((Secret::new(token), expires_on))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_answer() {
        let (t, e) =
            parse_identity_answer(r#"{"access_token":"abc","expires_on":"1700000000"}"#).unwrap();
        assert_eq!((t.expose(), e), ("abc", 1_700_000_000));
        let (_, e) = parse_identity_answer(r#"{"access_token":"abc","expires_on":17}"#).unwrap();
        assert_eq!(e, 17);
        assert!(parse_identity_answer(r#"{"access_token":""}"#).is_err());
        assert!(parse_identity_answer("<html>").is_err());
    }
}
