//! The conformance checks (`certmail_store::conformance`) on the sled backend, each on a
//! fresh store in its own temporary directory.

mod common;

certmail_store::conformance_tests!(common::TestStore::new);
