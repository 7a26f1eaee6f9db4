//! One file per IMAP command.
//!
//! Store-backed commands (`dispatch` routes each to its file): SELECT/EXAMINE, CREATE,
//! DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE, LIST/LSUB, STATUS, APPEND, CLOSE/UNSELECT,
//! EXPUNGE/UID EXPUNGE, SEARCH, FETCH, STORE, COPY/MOVE; `basic` has the store-free ones.

pub mod append;
pub mod basic;
pub mod close;
pub mod copy;
pub mod create;
pub mod delete;
pub mod dispatch;
pub mod expunge;
pub mod fetch;
pub mod list;
pub mod rename;
pub mod search;
pub mod select;
pub mod sets;
pub mod status;
pub mod store;
pub mod subscribe;

pub use dispatch::{Outcome, dispatch, store_error};
