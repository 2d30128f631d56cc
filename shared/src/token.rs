//! Virtual tokens: `<prefix><16 Crockford base32 characters>` carrying 80 bits from the OS CSPRNG.

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(String);

/// A new virtual token. 16 base32 characters are exactly 80 random bits.
pub fn new_virtual_token(prefix: &str) -> Result<String, RandomError> {
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(format!("{prefix}{}", encode_crockford(&bytes)))
}

fn encode_crockford(bytes: &[u8; 10]) -> String {
    let mut acc: u128 = 0;
    for b in bytes {
        acc = (acc << 8) | u128::from(*b);
    }
    (0..16)
        .rev()
        .map(|i| char::from(CROCKFORD[((acc >> (i * 5)) & 31) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_prefix_and_sixteen_crockford_chars() {
        let t = new_virtual_token("v:").map_err(|e| e.to_string());
        let t = t.as_deref().unwrap_or("");
        assert!(t.starts_with("v:"));
        let body = &t[2..];
        assert_eq!(body.len(), 16);
        assert!(body.bytes().all(|b| CROCKFORD.contains(&b)), "{body}");
    }

    #[test]
    fn encoding_is_big_endian_five_bit_groups() {
        assert_eq!(encode_crockford(&[0; 10]), "0000000000000000");
        assert_eq!(encode_crockford(&[0xff; 10]), "ZZZZZZZZZZZZZZZZ");
        let mut one = [0u8; 10];
        one[9] = 1;
        assert_eq!(encode_crockford(&one), "0000000000000001");
    }

    #[test]
    fn tokens_do_not_repeat() {
        let set: std::collections::HashSet<String> = (0..1000)
            .filter_map(|_| new_virtual_token("").ok())
            .collect();
        assert_eq!(set.len(), 1000);
    }
}
