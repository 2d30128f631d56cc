//! Shared helpers for the end-to-end tests in `tests/tests/`.

pub mod backends;
pub mod delivery_env;
pub mod fixtures;
