//! Any JSON as a Lambda event (SQS batch or bare body): decoding never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(ucc_functions::lambda::Decoded::Batch(msgs)) = ucc_functions::lambda::decode(v) {
            for (_, m) in msgs {
                let _ = ucc_shared::contract::classify(&m.body);
            }
        }
    }
});
