//! Any bytes as a session-completed event: parsing never panics, and an accepted session
//! has end ≥ start and non-negative consumption.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ucc_shared::session::SessionCompleted;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = SessionCompleted::from_json(data) {
        assert!(s.timestamp_end >= s.timestamp_start);
        assert!(!s.full_consumption_kwh().is_sign_negative());
    }
});
