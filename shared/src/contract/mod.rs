//! UC contract events (SPEC §3): parse, classify, apply to drivers, park what cannot succeed.

pub mod driver;
pub mod event;
pub mod handler;
pub mod tokens;

pub use event::{classify, Classified, ContractEvent, EventName, ParkReason};
pub use handler::{handle, replay, Handled, InboundMessage, Outcome};
pub use tokens::{owner_of, TokenOwner};
