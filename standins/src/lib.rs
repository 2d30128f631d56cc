//! Stand-ins of external services, written from their documented protocols, served on
//! loopback for tests and CLI tests. Never a dependency of a deployed function.

pub mod entsoe;
pub mod servicebus;
