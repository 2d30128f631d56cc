//! The properties each fuzz target checks, in one place: `fuzz/fuzz_targets/*` call them
//! with libFuzzer's inputs, and `tests/tests/fuzz_corpus.rs` replays the committed seeds and
//! every saved crash (`fuzz/regressions/<target>/`) through them in `make test`, so a
//! crash once found stays a regression test on the stable toolchain.
//!
//! Each check panics when the property does not hold: that is how libFuzzer notices.

use chrono::{DateTime, Utc};
use ucc_shared::contract::{classify, Classified};
use ucc_shared::delivery::attempt::{classify_lookup, classify_post, LookupVerdict, PostVerdict};
use ucc_shared::delivery::machine::{self, AttemptResult, RetryPolicy};
use ucc_shared::delivery::record::{DeliveryRecord, DeliveryState, PayloadKind};
use ucc_shared::session::SessionCompleted;
use ucc_shared::uc::client::{CallResult, RetryAfter, MAX_RETRY_AFTER};
use ucc_shared::uc::entra::{parse_token_answer, TokenError, MAX_TOKEN_CACHE};

/// Any bytes as a Service Bus message body: classification never panics, and a message it
/// accepts as an event has a valid GLN and an accounting point within the schema's bounds.
pub fn contract_event(data: &[u8]) {
    if let Classified::Event(e) = classify(data) {
        assert!(ucc_shared::gln::Gln::parse(e.tenant.as_str()).is_ok());
        assert!(!e.accounting_point.is_empty() && e.accounting_point.chars().count() <= 64);
        assert!(e.private_site_id.is_none_or(|s| s > 0));
    }
}

/// Any bytes as a session-completed event: parsing never panics, and an accepted session
/// has end ≥ start and non-negative consumption.
pub fn session_event(data: &[u8]) {
    if let Ok(s) = SessionCompleted::from_json(data) {
        assert!(s.timestamp_end >= s.timestamp_start);
        assert!(!s.full_consumption_kwh().is_sign_negative());
    }
}

/// Any JSON as an OCPI tariff: the strict parser never panics.
pub fn tariff(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = ucc_shared::pricing::parse_tariff(&v);
    }
}

/// Any bytes as a Functions host invocation: decoding never panics, and whatever it yields
/// can be classified.
pub fn azure_envelope(data: &[u8]) {
    let msg = ucc_functions::azure::decode_invocation(data);
    let _ = classify(&msg.body);
}

/// Any JSON as a Lambda event (SQS batch or bare body): decoding never panics.
pub fn lambda_event(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(ucc_functions::lambda::Decoded::Batch(msgs)) = ucc_functions::lambda::decode(v) {
            for (_, m) in msgs {
                let _ = classify(&m.body);
            }
        }
    }
}

/// One UC or Entra answer and the delivery's circumstances, decoded from fuzz bytes:
///
/// ```text
/// <status> <attempts> <jitter> <now: unix seconds> <flags>
/// Header-Name: value
/// ...
///
/// body
/// ```
///
/// Every field is read leniently (an unreadable number is 0, a too-large one saturates), so
/// every input is some answer. Flags: `p` this attempt posted, `i` a POST was in flight
/// before; `t`/`c`/`b` no answer at all (timed out, connection refused, broken).
#[derive(Debug)]
pub struct UcAnswer {
    pub result: CallResult,
    pub attempts: u32,
    pub jitter: f64,
    pub now: DateTime<Utc>,
    pub posted: bool,
    pub prior_in_flight: bool,
}

fn field<'a>(words: &mut impl Iterator<Item = &'a [u8]>) -> &'a str {
    words
        .next()
        .and_then(|w| std::str::from_utf8(w).ok())
        .unwrap_or("")
}

/// A decimal integer, saturating at the type's bounds; anything else is 0.
fn saturating_int(text: &str) -> i128 {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let magnitude = digits.parse::<i128>().unwrap_or(i128::MAX);
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

impl UcAnswer {
    pub fn decode(data: &[u8]) -> UcAnswer {
        let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
            Some(i) => (&data[..i], &data[i + 2..]),
            None => (data, &[][..]),
        };
        let mut lines = head.split(|b| *b == b'\n');
        let first = lines.next().unwrap_or_default();
        let mut words = first.split(|b| *b == b' ').filter(|w| !w.is_empty());
        let clamp = |v: i128, lo: i128, hi: i128| v.clamp(lo, hi);
        let status = clamp(saturating_int(field(&mut words)), 0, 65_535) as u16;
        let attempts = clamp(saturating_int(field(&mut words)), 0, u32::MAX.into()) as u32;
        let jitter = field(&mut words).parse::<f64>().unwrap_or(0.5);
        let (lo, hi) = (
            DateTime::<Utc>::MIN_UTC.timestamp(),
            DateTime::<Utc>::MAX_UTC.timestamp(),
        );
        let secs = clamp(saturating_int(field(&mut words)), lo.into(), hi.into()) as i64;
        let now = DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let flags = field(&mut words);
        let mut retry_after = None;
        for line in lines {
            let Some(colon) = line.iter().position(|b| *b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            // Location and anything else: classification must not depend on them.
            if name.eq_ignore_ascii_case(b"retry-after") {
                retry_after.get_or_insert(RetryAfter::parse(value));
            }
        }
        let result = if flags.contains('t') {
            CallResult::TimedOut
        } else if flags.contains('c') {
            CallResult::ConnectFailed("connection refused".into())
        } else if flags.contains('b') {
            CallResult::Broken("connection reset".into())
        } else {
            CallResult::Answered {
                status,
                body: String::from_utf8_lossy(body).into_owned(),
                retry_after,
            }
        };
        UcAnswer {
            result,
            attempts,
            jitter,
            now,
            posted: flags.contains('p'),
            prior_in_flight: flags.contains('i'),
        }
    }
}

/// Any bytes as a UC or Entra answer (see [`UcAnswer`]): classifying it, parsing its
/// `Retry-After`, the backoff and the state machine never panic; only a 2xx is ever
/// delivered (or yields an Entra token); the next attempt is never more than an hour plus the
/// maximum backoff after now.
pub fn uc_answer(data: &[u8]) {
    let a = UcAnswer::decode(data);
    let policy = RetryPolicy::default();
    let status = a.result.status();
    let is_2xx = status.is_some_and(|s| (200..300).contains(&s));
    let latest = chrono::Duration::from_std(MAX_RETRY_AFTER + policy.max)
        .ok()
        .and_then(|d| a.now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);

    let ra = match &a.result {
        CallResult::Answered { retry_after, .. } => retry_after.map(|r| r.delay_from(a.now)),
        _ => None,
    };
    assert!(ra.is_none_or(|d| d <= MAX_RETRY_AFTER), "{ra:?}");
    let delay = policy.delay(a.attempts, ra, a.jitter);
    assert!(delay <= MAX_RETRY_AFTER + policy.max, "{delay:?}");

    let mut results = Vec::new();
    match classify_post(&a.result, a.now) {
        PostVerdict::Done(r) => {
            if matches!(
                r,
                AttemptResult::Accepted { .. } | AttemptResult::AlreadyThere
            ) {
                assert!(is_2xx, "a non-2xx POST answer was accepted: {status:?}");
            }
            results.push(r);
        }
        PostVerdict::Unauthorized => assert_eq!(status, Some(401)),
        PostVerdict::Conflict { .. } => assert_eq!(status, Some(409)),
    }
    match classify_lookup(&a.result, a.now) {
        LookupVerdict::Found => assert_eq!(status, Some(200)),
        LookupVerdict::Missing => assert_eq!(status, Some(404)),
        LookupVerdict::Unauthorized => assert_eq!(status, Some(401)),
        LookupVerdict::Open(r) => results.push(r),
    }
    let gln = ucc_shared::gln::Gln::parse("7080010002488");
    if let Ok(gln) = gln {
        for r in &results {
            let mut rec = DeliveryRecord::new_pending(
                gln.clone(),
                "88812345".into(),
                PayloadKind::InvoiceLine,
                serde_json::Value::Null,
                "707057500012345678".into(),
                a.now,
            );
            rec.attempts = a.attempts;
            machine::apply(
                &mut rec,
                r,
                a.posted,
                a.prior_in_flight,
                a.now,
                &policy,
                a.jitter,
            );
            if rec.state == DeliveryState::Delivered {
                assert!(is_2xx, "delivered on {status:?}");
            }
            if let Some(next) = rec.next_attempt_at {
                assert!(
                    a.now <= next && next <= latest,
                    "next attempt {next} is not within an hour + max backoff of {}",
                    a.now
                );
            }
        }
    }

    if let CallResult::Answered { status, body, .. } = &a.result {
        match parse_token_answer(*status, body) {
            Ok(issued) => {
                assert!(is_2xx, "Entra token from HTTP {status}");
                assert!(!issued.token.bearer().is_empty());
                assert!(issued.valid_for <= MAX_TOKEN_CACHE);
            }
            Err(TokenError::Rejected {
                status: s,
                error,
                description,
            }) => {
                assert!(matches!(s, 400 | 401));
                assert!(error.chars().count() <= 100 && description.chars().count() <= 300);
            }
            Err(_) => {}
        }
    }
}

/// A property over one fuzz input; panics when it does not hold.
pub type Check = fn(&[u8]);

/// Every target by the name of its `fuzz/fuzz_targets/<name>.rs` and corpus directory.
pub const TARGETS: [(&str, Check); 6] = [
    ("contract_event", contract_event),
    ("session_event", session_event),
    ("tariff", tariff),
    ("azure_envelope", azure_envelope),
    ("lambda_event", lambda_event),
    ("uc_answer", uc_answer),
];
