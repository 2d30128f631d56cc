//! Shared helpers for the end-to-end tests in `tests/tests/`.

// Test support: a failed setup step is a failed test, so panicking is the right answer.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod backends;
pub mod crashing;
pub mod delivery_env;
pub mod dynamodb_local;
pub mod fixtures;
pub mod fuzz_checks;
pub mod property;
pub mod servicebus;
