//! Embedded backend of the store port (being written).
