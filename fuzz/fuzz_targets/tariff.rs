//! Any JSON as an OCPI tariff: the strict parser never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = ucc_shared::pricing::parse_tariff(&v);
    }
});
