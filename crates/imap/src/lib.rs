//! certmail-imap.
#![forbid(unsafe_code)]
