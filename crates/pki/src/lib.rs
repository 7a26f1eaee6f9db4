//! certmail-pki.
#![forbid(unsafe_code)]
