//! Where each kind of item lives. Every tenant-owned partition key starts with `T#<gln>#`,
//! so a handler holding one tenant's GLN cannot address another tenant's items by accident.

use crate::gln::Gln;

/// Directory of tenants (one item per GLN, for listing).
pub const TENANT_DIRECTORY: &str = "TENANTS";
/// customerId → GLN, for routing session-completed events.
pub const CUSTOMER_DIRECTORY: &str = "CUSTOMERS";
/// Scope of messages whose tenant could not be determined.
pub const UNROUTED: &str = "UNROUTED";

pub const CONFIG: &str = "CFG";
pub const DRIVERS: &str = "DRV";
/// Legacy token → driver entries (see `contract::tokens`).
pub const TOKENS: &str = "TOK";
/// Token holder entries: which drivers received a token, and in which event.
pub const TOKEN_HOLDERS: &str = "TOKH";
pub const LOGS: &str = "LOG";
pub const PARKED: &str = "PARK";

pub fn tenant(gln: &Gln, kind: &str) -> String {
    format!("T#{gln}#{kind}")
}

/// Partition for a tenant's items of `kind`, or the unrouted scope's when there is no tenant.
pub fn scoped(gln: Option<&Gln>, kind: &str) -> String {
    match gln {
        Some(g) => tenant(g, kind),
        None => format!("{UNROUTED}#{kind}"),
    }
}
