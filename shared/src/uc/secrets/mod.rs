//! Secret references (`env:NAME`, `file:PATH`) resolved at the moment of use. A resolved
//! secret is never stored, logged, displayed or put in an error message.

use std::fmt;

/// A resolved secret. `Debug` is redacted and there is deliberately no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (the token request body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("secret reference {reference}: environment variable is not set")]
    MissingEnv { reference: String },
    #[error("secret reference {reference}: cannot read the file ({reason})")]
    Unreadable { reference: String, reason: String },
    #[error("secret reference {reference}: the secret is empty")]
    Empty { reference: String },
    #[error("secret reference scheme of {reference} is resolved by the deployed function's platform (Secrets Manager / Key Vault reference), not here")]
    PlatformResolved { reference: String },
    #[error("{0:?} is not a secret reference (env:NAME or file:PATH)")]
    NotAReference(String),
}

/// Resolves a reference. Errors name the reference (never the value).
pub fn resolve(reference: &str) -> Result<Secret, SecretError> {
    let value = if let Some(name) = reference.strip_prefix("env:") {
        std::env::var(name).map_err(|_| SecretError::MissingEnv {
            reference: reference.to_owned(),
        })?
    } else if let Some(path) = reference.strip_prefix("file:") {
        let raw = std::fs::read_to_string(path).map_err(|e| SecretError::Unreadable {
            reference: reference.to_owned(),
            reason: e.kind().to_string(),
        })?;
        raw.trim_end_matches(['\r', '\n']).to_owned()
    } else if reference.starts_with("aws-sm:") || reference.starts_with("keyvault:") {
        // Deployed functions receive these as environment values injected by the platform
        // (Lambda secrets extension / Key Vault references), named UCC_SECRET_<sha>; see
        // docs. Locally there is nothing to resolve them against.
        return Err(SecretError::PlatformResolved {
            reference: reference.to_owned(),
        });
    } else {
        // Not echoed: someone may have pasted the secret itself.
        return Err(SecretError::NotAReference("(value hidden)".into()));
    };
    if value.is_empty() {
        return Err(SecretError::Empty {
            reference: reference.to_owned(),
        });
    }
    Ok(Secret(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
    }

    #[test]
    fn file_references_trim_the_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("ucc-secret-{}", std::process::id()));
        let _ = std::fs::write(&dir, "s3cret\n");
        let got = resolve(&format!("file:{}", dir.display())).map(|s| s.expose().to_owned());
        let _ = std::fs::remove_file(&dir);
        assert_eq!(got, Ok("s3cret".to_owned()));
    }

    #[test]
    fn errors_name_the_reference_not_the_value() {
        let e = resolve("env:UCC_SURELY_NOT_SET_1234")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("UCC_SURELY_NOT_SET_1234")));
        let e = resolve("plain-secret-value")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!e.contains("plain-secret-value"));
    }
}
