//! Core of the Utility Cloud Connector. Platform-free: no Lambda, Azure or HTTP-server types.

pub mod gln;
pub mod pricing;
pub mod session;
pub mod store;
