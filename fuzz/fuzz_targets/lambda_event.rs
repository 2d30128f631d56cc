//! Any JSON as a Lambda event (SQS batch or bare body): decoding never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ucc_tests::fuzz_checks::lambda_event(data));
