//! OCPI 2.2.1 pricing engine (being written).
