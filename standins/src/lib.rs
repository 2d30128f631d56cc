//! Stand-ins of external services, written from their documented protocols, served on
//! loopback for tests, CLI tests and the demo (`run-scenario --uc-standin`). Never on a deployed
//! function's request path (only `ucc` links them, for the demo).

pub mod entsoe;
pub mod servicebus;
pub mod uc;
