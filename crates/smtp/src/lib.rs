//! certmail-smtp.
#![forbid(unsafe_code)]
