//! The schema: embedded, versioned migrations applied at open, and the key check.
//!
//! `schema_version` holds one row per applied migration. `migrate` runs in one
//! transaction under `pg_advisory_xact_lock`, so two nodes starting at once apply each
//! migration exactly once (the second waits, then finds nothing to do); DDL is
//! transactional in PostgreSQL, so a failed migration leaves the previous version intact.
//! Tables and their meaning: `SCHEMA.md` beside this crate's `Cargo.toml`.

use certmail_store::StoreError;
use certmail_store::shared::Sealer;

use crate::error::{OpenError, db};

/// `pg_advisory_xact_lock` key of the migration lock ("certmail" in ASCII, as an i64).
const MIGRATION_LOCK: i64 = 0x6365_7274_6d61_696c;

/// The migrations, in order; a version is never edited once released, only followed.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_subscriptions.sql")),
    (3, include_str!("../migrations/0003_device_client.sql")),
    (4, include_str!("../migrations/0004_session_leases.sql")),
    (5, include_str!("../migrations/0005_sieve_scripts.sql")),
    (6, include_str!("../migrations/0006_queue_claims.sql")),
    (7, include_str!("../migrations/0007_failure_windows.sql")),
    (8, include_str!("../migrations/0008_acl.sql")),
    (9, include_str!("../migrations/0009_web_sessions.sql")),
    (10, include_str!("../migrations/0010_vacation_replies.sql")),
    (11, include_str!("../migrations/0011_urlauth_keys.sql")),
    (12, include_str!("../migrations/0012_search_index.sql")),
    (13, include_str!("../migrations/0013_redirect_days.sql")),
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i32 = 13;

/// The plaintext sealed under each key id, so a wrong key file fails at open.
const KEY_CHECK_PLAINTEXT: &[u8] = b"certmail key check";

/// Brings the schema up to [`SCHEMA_VERSION`]; refuses a database with a newer one.
pub(crate) async fn migrate(client: &mut tokio_postgres::Client) -> Result<i32, OpenError> {
    let tx = client.transaction().await.map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(db)?;
    let row = tx
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await
        .map_err(db)?;
    let found: i32 = row.get(0);
    if found > SCHEMA_VERSION {
        return Err(OpenError::SchemaVersion {
            found,
            expected: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        tracing::info!(version, "applying PostgreSQL schema migration");
        tx.batch_execute(sql).await.map_err(db)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(SCHEMA_VERSION)
}

/// Refuses a database whose commits return before they are durable: with
/// `synchronous_commit = off` a crash of the server loses acknowledged mail.
pub(crate) async fn check_durability(client: &tokio_postgres::Client) -> Result<(), OpenError> {
    let setting: String = client
        .query_one("SELECT current_setting('synchronous_commit')", &[])
        .await
        .map_err(db)?
        .get(0);
    if setting == "off" {
        return Err(OpenError::NotDurable(setting));
    }
    Ok(())
}

/// The schema version of a database, without changing it (`check-config`).
pub async fn schema_version(client: &tokio_postgres::Client) -> Result<i32, StoreError> {
    // Two statements: a query naming a missing table fails at parse time.
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await
        .map_err(db)?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await
        .map_err(db)?;
    Ok(row.get(0))
}

/// AAD of a key check value: the same record name sled uses (`key_check/<id>`).
fn key_check_aad(id: u8) -> Vec<u8> {
    [&b"key_check/"[..], &[id]].concat()
}

/// Seals a check value under every key id not yet checked, then opens every stored one:
/// a key file that differs from the one that wrote the store fails here with `WrongKey`.
pub(crate) async fn check_keys(
    client: &tokio_postgres::Client,
    sealer: &Sealer,
) -> Result<(), StoreError> {
    for id in sealer.key_ids().collect::<Vec<_>>() {
        let sealed = sealer.seal_with(id, &key_check_aad(id), KEY_CHECK_PLAINTEXT)?;
        client
            .execute(
                "INSERT INTO key_checks (key_id, sealed) VALUES ($1, $2)
                 ON CONFLICT (key_id) DO NOTHING",
                &[&i16::from(id), &sealed],
            )
            .await
            .map_err(db)?;
    }
    for row in client
        .query("SELECT key_id, sealed FROM key_checks", &[])
        .await
        .map_err(db)?
    {
        let id: i16 = row.get(0);
        let id = u8::try_from(id).map_err(|_| crate::error::out_of_range("key id", id.into()))?;
        let sealed: Vec<u8> = row.get(1);
        match sealer.open(&key_check_aad(id), &sealed) {
            Ok(_) => {}
            Err(StoreError::Decrypt { .. }) => return Err(StoreError::WrongKey { key_id: id }),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
