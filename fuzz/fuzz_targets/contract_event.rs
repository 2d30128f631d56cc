//! Any bytes as a Service Bus message body: classification never panics, and a message it
//! accepts as an event has a valid GLN and an accounting point within the schema's bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ucc_tests::fuzz_checks::contract_event(data));
