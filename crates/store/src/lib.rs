//! certmail-store.
#![forbid(unsafe_code)]
