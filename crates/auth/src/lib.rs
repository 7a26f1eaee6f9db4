//! certmail-auth.
#![forbid(unsafe_code)]
