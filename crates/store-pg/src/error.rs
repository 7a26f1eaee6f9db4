//! Errors: [`OpenError`] for opening the store (configuration, connection, schema), and the
//! mapping of PostgreSQL failures to [`StoreError`] for the store operations.
//!
//! `StoreError` has no variant for "temporarily unavailable": a lost connection, a database
//! restart, a failover in progress or an exhausted pool become `StoreError::Task` with a text
//! that says so. Callers already treat every non-user error as temporary (SMTP 451,
//! IMAP `NO`), so the behaviour is right; a dedicated variant would let them say
//! `[UNAVAILABLE]` precisely.

use certmail_store::StoreError;

/// Why [`crate::PgStore::open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// `postgres_url` is not acceptable (the operator's fault).
    #[error("postgres_url: {0}")]
    Url(String),
    /// The `sslrootcert` file could not be read or holds no usable certificate.
    #[error("sslrootcert {path}: {reason}")]
    RootCert {
        /// The file named in the URL.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No connection to the database could be made (network, TLS, authentication).
    #[error("connecting to PostgreSQL: {0}")]
    Connect(String),
    /// The database holds a newer schema than this build knows.
    #[error(
        "PostgreSQL schema version {found}, this build knows up to {expected}; \
         run the matching certmail version"
    )]
    SchemaVersion {
        /// The version found in `schema_version`.
        found: i32,
        /// The newest version this build has.
        expected: i32,
    },
    /// The database would acknowledge commits before they are durable
    /// (`synchronous_commit = off`), which would break SMTP's and IMAP's promise.
    #[error(
        "synchronous_commit is {0} for this database or role: certmail acknowledges mail only \
         after a durable COMMIT; set it to on (or local, remote_write, remote_apply)"
    )]
    NotDurable(String),
    /// A store-level failure while opening (migration, key check).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a PostgreSQL failure is expected to pass: the connection is gone, the server is
/// shutting down or starting, it is a read-only standby (failover in progress), it is out
/// of resources, or the transaction lost a serialization or deadlock race.
pub fn is_temporary(e: &tokio_postgres::Error) -> bool {
    let Some(code) = e.code() else {
        // No SQLSTATE: I/O error, closed connection, timeout.
        return true;
    };
    let code = code.code();
    code.starts_with("08") // connection exception
        || code.starts_with("57P") // admin/crash shutdown, cannot connect now
        || code.starts_with("53") // insufficient resources
        || code == "25006" // read-only transaction: a standby after failover
        || code == "40001" // serialization failure
        || code == "40P01" // deadlock detected
}

/// An error with its causes, `outer: inner: innermost` (tokio-postgres puts the useful
/// part, e.g. why a certificate was refused, in the sources).
pub(crate) fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A PostgreSQL failure as a store error.
pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    if is_temporary(&e) {
        StoreError::Task(format!(
            "PostgreSQL unavailable (temporary): {}",
            with_causes(&e)
        ))
    } else {
        let reason = match e.as_db_error() {
            Some(d) => format!("{}: {}", d.code().code(), d.message()),
            None => e.to_string(),
        };
        StoreError::Corrupt {
            record: "postgresql".into(),
            reason,
        }
    }
}

/// A pool failure (no connection could be had in time) as a store error: temporary.
pub(crate) fn pool(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db(e),
        other => StoreError::Task(format!(
            "PostgreSQL unavailable (temporary): {}",
            with_causes(&other)
        )),
    }
}

/// A stored value outside its column's Rust range (e.g. a negative UID): corruption.
pub(crate) fn out_of_range(what: &str, value: i64) -> StoreError {
    StoreError::Corrupt {
        record: "postgresql".into(),
        reason: format!("{what} {value} out of range"),
    }
}
