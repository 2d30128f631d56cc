//! Any bytes as a UC or Entra answer (status, headers incl. Retry-After/Location, body) with
//! the delivery's attempts, jitter and clock: classification, Retry-After, backoff and the
//! state machine never panic, only a 2xx is delivered or yields a token, and the next attempt
//! is at most an hour plus the maximum backoff away.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ucc_tests::fuzz_checks::uc_answer(data));
