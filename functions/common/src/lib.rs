//! Platform adapters shared by the function binaries and `ucc serve`.
//!
//! Invariant: no business logic here. Each module decodes a platform's envelope, calls a
//! handler from `ucc-shared`, and maps its outcome to the platform's answer.

/// The admin API (SPEC §7) as an axum router.
pub mod admin;
pub mod azure;
pub mod env;
pub mod lambda;
/// Service Bus intake over the REST API with peek-lock (SPEC §10), for AWS.
pub mod servicebus;
pub mod telemetry;
