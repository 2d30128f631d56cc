//! `env:NAME` and `file:PATH`: read at each use, never cached (a changed file or variable
//! is seen at once).

use super::{non_empty, Secret, SecretError};

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
    } else {
        // Not echoed: someone may have pasted the secret itself.
        return Err(SecretError::NotAReference("(value hidden)".into()));
    };
    non_empty(reference, value)
}
