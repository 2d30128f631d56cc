//! Core of the Utility Cloud Connector. Platform-free: no Lambda, Azure or HTTP-server types.

pub mod apikey;
pub mod azure_identity;
pub mod context;
pub mod contract;
pub mod counts;
pub mod decimal;
pub mod delivery;
pub mod details;
pub mod gln;
pub mod keys;
pub mod log;
pub mod migration;
pub mod parked;
pub mod pricing;
pub mod registry;
pub mod session;
pub mod spot;
pub mod store;
pub mod tenant;
pub mod token;
pub mod uc;
