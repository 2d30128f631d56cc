//! Any bytes as a Functions host invocation: decoding never panics, and whatever it yields
//! can be classified.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let msg = ucc_functions::azure::decode_invocation(data);
    let _ = ucc_shared::contract::classify(&msg.body);
});
