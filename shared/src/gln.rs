//! GS1 Global Location Numbers: the identity of a Utility Cloud tenant.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A validated 13-digit GLN whose last digit is the GS1 mod-10 check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gln(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlnError {
    #[error("a GLN has 13 digits, got {0} characters")]
    Length(usize),
    #[error("a GLN has only digits 0-9")]
    NotDigits,
    #[error("check digit is {found}, expected {expected}")]
    CheckDigit { found: u32, expected: u32 },
}

impl Gln {
    pub fn parse(s: &str) -> Result<Self, GlnError> {
        if s.len() != 13 {
            return Err(GlnError::Length(s.chars().count()));
        }
        let digits: Vec<u32> = s
            .chars()
            .map(|c| c.to_digit(10))
            .collect::<Option<_>>()
            .ok_or(GlnError::NotDigits)?;
        let expected = check_digit(&digits[..12]);
        let found = digits[12];
        if found != expected {
            return Err(GlnError::CheckDigit { found, expected });
        }
        Ok(Gln(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// GS1 mod-10: weights 3,1,3,1… starting from the rightmost data digit.
fn check_digit(data: &[u32]) -> u32 {
    let sum: u32 = data
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    (10 - sum % 10) % 10
}

impl TryFrom<String> for Gln {
    type Error = GlnError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Gln::parse(&s)
    }
}

impl From<Gln> for String {
    fn from(g: Gln) -> String {
        g.0
    }
}

impl fmt::Display for Gln {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples_are_valid() {
        for g in ["7080010002488", "7300011000017", "9436465792104"] {
            assert_eq!(Gln::parse(g).map(|g| g.to_string()), Ok(g.to_owned()));
        }
    }

    #[test]
    fn wrong_check_digit_names_the_expected_one() {
        assert_eq!(
            Gln::parse("7080010002489"),
            Err(GlnError::CheckDigit {
                found: 9,
                expected: 8
            })
        );
    }

    #[test]
    fn wrong_length_and_non_digits_are_refused() {
        assert_eq!(Gln::parse("708001000248"), Err(GlnError::Length(12)));
        assert_eq!(Gln::parse("70800100024a8"), Err(GlnError::NotDigits));
        assert!(Gln::parse("７080010002488").is_err());
    }
}
