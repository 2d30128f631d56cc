//! The properties each fuzz target checks, in one place: `fuzz/fuzz_targets/*` call them
//! with libFuzzer's inputs, and `tests/tests/fuzz_corpus.rs` replays the committed seeds and
//! every saved crash (`fuzz/regressions/<target>/`) through them in `make test`, so a
//! crash once found stays a regression test on the stable toolchain.
//!
//! Each check panics when the property does not hold: that is how libFuzzer notices.

use ucc_shared::contract::{classify, Classified};
use ucc_shared::session::SessionCompleted;

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

/// A property over one fuzz input; panics when it does not hold.
pub type Check = fn(&[u8]);

/// Every target by the name of its `fuzz/fuzz_targets/<name>.rs` and corpus directory.
pub const TARGETS: [(&str, Check); 5] = [
    ("contract_event", contract_event),
    ("session_event", session_event),
    ("tariff", tariff),
    ("azure_envelope", azure_envelope),
    ("lambda_event", lambda_event),
];
