//! Black-box tests of the certmail daemon.
#![forbid(unsafe_code)]
