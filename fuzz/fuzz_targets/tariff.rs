//! Any JSON as an OCPI tariff: the strict parser never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ucc_tests::fuzz_checks::tariff(data));
