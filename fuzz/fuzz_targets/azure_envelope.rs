//! Any bytes as a Functions host invocation: decoding never panics, and whatever it yields
//! can be classified.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ucc_tests::fuzz_checks::azure_envelope(data));
