//! certmail-session.
#![forbid(unsafe_code)]
