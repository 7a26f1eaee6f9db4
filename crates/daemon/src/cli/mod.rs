//! The command line.

pub mod admin;
pub mod args;
pub mod client;
pub mod demo;
pub mod dev;
pub mod dkim;
pub mod import_maildir;
pub mod link;
pub mod man;
pub mod ops;
pub mod qr;
pub mod table;
