//! Service Bus intake outside Azure (SPEC §10): receive from a topic subscription over the
//! REST API with peek-lock, hand each message to the contract-events handler, settle it by
//! the outcome. No business logic: the handler decides, this module only settles.

pub mod auth;
pub mod config;
pub mod pull;
pub mod receiver;

pub use config::{Auth as AuthConfig, Config};
pub use pull::{run, PullError, Summary};
