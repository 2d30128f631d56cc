//! Any bytes as a Service Bus message body: classification never panics, and a message it
//! accepts as an event has a valid GLN and an accounting point within the schema's bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ucc_shared::contract::{classify, Classified};

fuzz_target!(|data: &[u8]| {
    if let Classified::Event(e) = classify(data) {
        assert!(ucc_shared::gln::Gln::parse(e.tenant.as_str()).is_ok());
        assert!(!e.accounting_point.is_empty() && e.accounting_point.chars().count() <= 64);
        assert!(e.private_site_id.is_none_or(|s| s > 0));
    }
});
