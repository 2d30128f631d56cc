//! Cursor pagination over one partition. The cursor is the sort key of the last item a
//! page looked at (base64url), so the next page starts strictly after it: items written
//! meanwhile either sort before the cursor (a newer log entry in a newest-first listing)
//! or are simply found later, and no item is skipped or repeated.

use base64::Engine;
use ucc_shared::store::{Item, Query, SkRange, Store, StoreError};

use super::errors::{ApiError, ApiResult};

/// Store pages read at most per API page, so a selective filter over a long history
/// answers quickly (with a cursor to continue) instead of reading everything.
pub const MAX_STORE_PAGES: usize = 10;
const STORE_PAGE: usize = 200;
/// A page stops growing past this many bytes of stored documents (log payloads are up to
/// 64 KiB each): a Lambda answer is capped at 6 MB, and a browser does not want more.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;
/// Sort keys are short; a longer cursor is not one of ours.
const MAX_CURSOR_SK: usize = 1024;
/// Base64url characters of the longest cursor (`MAX_CURSOR_SK` bytes), as in the OpenAPI
/// document's `maxLength`.
pub const MAX_CURSOR_CHARS: usize = 1366;

pub fn encode(sk: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk.as_bytes())
}

/// A cursor back into a position. It must be canonical unpadded base64url (what `encode`
/// writes, and what the OpenAPI pattern describes); what it decodes to is a position in the
/// sort order, so bytes that are not one of our keys still name a well-defined place to
/// continue from: invalid UTF-8 and control characters become U+FFFD, and the position is
/// cut to the store's sort-key limit.
pub fn decode(raw: &str) -> ApiResult<String> {
    let bad = || ApiError::invalid("cursor", "is not a cursor from a previous page");
    if raw.len() > MAX_CURSOR_CHARS {
        return Err(bad());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| bad())?;
    if bytes.is_empty() {
        return Err(bad());
    }
    let lossy = String::from_utf8_lossy(&bytes);
    let mut sk = String::with_capacity(lossy.len());
    for c in lossy.chars() {
        let c = if c.is_control() { '\u{FFFD}' } else { c };
        if sk.len() + c.len_utf8() > MAX_CURSOR_SK {
            break;
        }
        sk.push(c);
    }
    Ok(sk)
}

/// The page size (`default` when absent, at most `max`) and the decoded cursor of a list
/// request's query parameters.
pub fn request(
    params: &std::collections::HashMap<String, String>,
    default: usize,
    max: usize,
) -> ApiResult<(usize, Option<String>)> {
    let limit = limit(params.get("limit"), default, max)?;
    let cursor = params.get("cursor").map(|c| decode(c)).transpose()?;
    Ok((limit, cursor))
}

fn limit(raw: Option<&String>, default: usize, max: usize) -> ApiResult<usize> {
    match raw {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(
                "limit",
                format!("must be an integer from 1 to {max}"),
            )),
        },
    }
}

/// One page scan: items of `pk` between `lower` and `upper` (inclusive) in sort-key
/// order, minus `skip` (the previous cursor, which an inclusive bound would repeat),
/// kept when `keep` maps them to `Some`, up to `limit` items or [`MAX_PAGE_BYTES`]. Returns
/// the kept items and the next cursor.
#[allow(clippy::too_many_arguments)]
pub async fn scan<T>(
    store: &dyn Store,
    pk: String,
    lower: String,
    upper: String,
    skip: Option<&str>,
    limit: usize,
    mut keep: impl FnMut(&Item) -> Option<T>,
) -> Result<(Vec<T>, Option<String>), StoreError> {
    // DynamoDB refuses BETWEEN with bounds the wrong way round; nothing can match anyway.
    if lower > upper {
        return Ok((Vec::new(), None));
    }
    let mut q = Query {
        pk,
        range: SkRange::Between(lower, upper),
        limit: STORE_PAGE,
        cursor: None,
    };
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let mut last: Option<String> = None;
    for _ in 0..MAX_STORE_PAGES {
        let page = store.query(&q).await?;
        let n = page.items.len();
        for (i, item) in page.items.iter().enumerate() {
            if skip == Some(item.key.sk.as_str()) {
                continue;
            }
            last = Some(item.key.sk.clone());
            if let Some(v) = keep(item) {
                out.push(v);
                bytes += item.doc.len();
                if out.len() >= limit || bytes >= MAX_PAGE_BYTES {
                    let more = i + 1 < n || page.next.is_some();
                    return Ok((out, last.filter(|_| more).map(|sk| encode(&sk))));
                }
            }
        }
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => return Ok((out, None)),
        }
    }
    Ok((out, last.map(|sk| encode(&sk))))
}
