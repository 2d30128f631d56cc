//! Session-completed events from eMabler (being written).
