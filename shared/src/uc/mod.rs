//! Talking to Utility Cloud and Microsoft Entra (SPEC §6): secrets, tokens, HTTP calls and
//! the payloads UC accepts. No delivery policy here: that is `delivery/`.

pub mod client;
pub mod entra;
pub mod payload;
pub mod secrets;

/// Marker that replaces secrets and bearer tokens wherever a request is logged.
pub const REDACTED: &str = "[REDACTED]";
