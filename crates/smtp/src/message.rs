//! Header helpers (to be written).
