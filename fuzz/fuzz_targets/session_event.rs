//! Any bytes as a session-completed event: parsing never panics, and an accepted session
//! has end ≥ start and non-negative consumption.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ucc_tests::fuzz_checks::session_event(data));
