//! Where an item lives in an Azure table, and the key escaping that makes it possible.
//!
//! Azure forbids `/ \ # ?` and control characters in PartitionKey and RowKey, and the
//! product's keys are full of `#`. [`escape`] maps any string onto the allowed characters
//! with a code that is **order-preserving** (a < b ⇔ escape(a) < escape(b), comparing
//! UTF-8 bytes, as DynamoDB and the embedded store do) and **prefix-preserving** (a is a
//! prefix of b ⇔ escape(a) is a prefix of escape(b)), so sort-key ranges and prefix
//! queries become RowKey ranges unchanged. It is a byte code, monotone and prefix-free:
//!
//! | bytes | written as |
//! |---|---|
//! | `0x00`–`0x21` (controls, space, `!`) | `!` + two hex digits |
//! | `#` `$` | `$0` `$1` |
//! | `.` `/` | `.0` `.1` |
//! | `>` `?` | `>0` `>1` |
//! | `[` `\` | `[0` `[1` |
//! | `0x7E`–`0xFF` (`~`, DEL, every non-ASCII byte) | `~` + two hex digits |
//! | anything else | itself |
//!
//! The output is printable ASCII without a space, so a space can separate the parts of a
//! RowKey and sorts below everything an escaped part can contain.
//!
//! Layout of one tenant's (one scope's) partition:
//! * item: `i<rest of pk> <sk>`, the item's own row;
//! * index entry: `x<rest of index partition> <index sort> <item row>`, a copy of the item;
//! * expiry entry: `e<expires, 20 digits> <item row>`, found by the expiry sweep.

use std::fmt::Write;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Escapes `s` for use in a key (see the module docs for the code).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for &b in s.as_bytes() {
        match b {
            0x00..=0x21 | 0x7E..=0xFF => {
                out.push(if b <= 0x21 { '!' } else { '~' });
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xF) as usize] as char);
            }
            b'#' | b'$' => {
                out.push('$');
                out.push(if b == b'#' { '0' } else { '1' });
            }
            b'.' | b'/' => {
                out.push('.');
                out.push(if b == b'.' { '0' } else { '1' });
            }
            b'>' | b'?' => {
                out.push('>');
                out.push(if b == b'>' { '0' } else { '1' });
            }
            b'[' | b'\\' => {
                out.push('[');
                out.push(if b == b'[' { '0' } else { '1' });
            }
            _ => out.push(b as char),
        }
    }
    out
}

/// The inverse of [`escape`]; `None` for anything `escape` cannot have produced.
pub fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let pair = |lo: u8, hi: u8| match bytes.get(i + 1) {
            Some(b'0') => Some(lo),
            Some(b'1') => Some(hi),
            _ => None,
        };
        let (decoded, width) = match b {
            b'!' | b'~' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                let v = u8::from_str_radix(hex, 16).ok()?;
                let in_range = if b == b'!' { v <= 0x21 } else { v >= 0x7E };
                (in_range.then_some(v)?, 3)
            }
            b'$' => (pair(b'#', b'$')?, 2),
            b'.' => (pair(b'.', b'/')?, 2),
            b'>' => (pair(b'>', b'?')?, 2),
            b'[' => (pair(b'[', b'\\')?, 2),
            0x22..=0x7D if !b"#/?\\".contains(&b) => (b, 1),
            _ => return None,
        };
        out.push(decoded);
        i += width;
    }
    String::from_utf8(out).ok()
}

pub use crate::store::scope_of;

/// The part of `pk` after its scope (without the separating `#`).
pub fn rest_of(pk: &str) -> &str {
    let scope = scope_of(pk);
    pk[scope.len()..].strip_prefix('#').unwrap_or("")
}

/// The PartitionKey holding every item of `pk`'s scope.
pub fn partition(pk: &str) -> String {
    escape(scope_of(pk))
}

/// Prefix of every item row of `pk`.
pub fn item_prefix(pk: &str) -> String {
    format!("i{} ", escape(rest_of(pk)))
}

/// The RowKey of the item `(pk, sk)`.
pub fn item_row(pk: &str, sk: &str) -> String {
    let mut row = item_prefix(pk);
    row.push_str(&escape(sk));
    row
}

/// Prefix of every entry of the index partition `ipk`.
pub fn index_prefix(ipk: &str) -> String {
    format!("x{} ", escape(rest_of(ipk)))
}

/// The RowKey of an index entry: ordered by the index sort, then by the item.
pub fn index_row(ipk: &str, isort: &str, item_row: &str) -> String {
    let mut row = index_prefix(ipk);
    row.push_str(&escape(isort));
    row.push(' ');
    row.push_str(item_row);
    row
}

/// Prefix of every expiry entry.
pub const EXPIRY_PREFIX: &str = "e";

/// The RowKey of an expiry entry; 20 digits so that they order by time.
pub fn expiry_row(expires_at: i64, item_row: &str) -> String {
    let mut row = String::with_capacity(22 + item_row.len());
    let _ = write!(row, "e{:020} ", expires_at.max(0));
    row.push_str(item_row);
    row
}

/// A RowKey above every row that starts with `prefix`: what follows the prefix is escaped
/// text and spaces, whose characters are at most `~`, and a `~` there is always followed by
/// a hex digit, which sorts below `~`.
pub fn after_prefix(prefix: &str) -> String {
    format!("{prefix}~~")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn allowed(s: &str) -> bool {
        s.chars()
            .all(|c| (c as u32) > 0x20 && (c as u32) < 0x7F && !"/\\#?".contains(c))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn order_prefix_and_round_trip(a in "\\PC{0,12}|[#$./>?\\[\\\\!~ \\x00-\\x22]{0,8}", b in "\\PC{0,12}|[#$./>?\\[\\\\!~ \\x00-\\x22]{0,8}") {
            let (ea, eb) = (escape(&a), escape(&b));
            prop_assert!(allowed(&ea), "{ea:?}");
            prop_assert_eq!(a.as_bytes().cmp(b.as_bytes()), ea.cmp(&eb));
            prop_assert_eq!(b.starts_with(a.as_str()), eb.starts_with(ea.as_str()));
            prop_assert_eq!(unescape(&ea), Some(a.clone()));
        }

        #[test]
        fn rows_of_one_pk_stay_together(p in "[A-Z#]{0,6}", q in "[A-Z#]{0,6}", s in "\\PC{0,6}", t in "\\PC{0,6}") {
            // An item row of pk p never falls among the rows of another pk q.
            let pk = format!("T#7080005051286#{p}");
            let qk = format!("T#7080005051286#{q}");
            let row = item_row(&qk, &t);
            let pre = item_prefix(&pk);
            if p != q {
                prop_assert!(!row.starts_with(&pre));
            }
            prop_assert!(item_row(&pk, &s) < after_prefix(&pre));
        }
    }

    #[test]
    fn every_byte_keeps_its_order() {
        let codes: Vec<String> = (0u8..=0x7F)
            .map(|b| escape(std::str::from_utf8(&[b]).unwrap_or("")))
            .collect();
        for w in codes.windows(2) {
            assert!(w[0] < w[1], "{:?} !< {:?}", w[0], w[1]);
        }
    }

    #[test]
    fn scopes() {
        assert_eq!(scope_of("T#7080005051286#DRV"), "T#7080005051286");
        assert_eq!(rest_of("T#7080005051286#DRV"), "DRV");
        assert_eq!(scope_of("T#7080005051286"), "T#7080005051286");
        assert_eq!(rest_of("T#7080005051286"), "");
        assert_eq!(scope_of("TENANTS"), "TENANTS");
        assert_eq!(scope_of("UNROUTED#PARK"), "UNROUTED");
        assert_eq!(rest_of("UNROUTED#PARK"), "PARK");
    }

    #[test]
    fn garbage_does_not_unescape() {
        for bad in ["!", "!2", "!FF", "~00", "$2", "#", " ", "\u{7f}", "é"] {
            assert_eq!(unescape(bad), None, "{bad:?}");
        }
    }
}
