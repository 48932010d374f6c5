//! The PostgreSQL schema, versioned: each migration runs once, in order, recorded in
//! `securix_schema`. Nodes started together take a transaction-scoped advisory lock
//! first, so one of them migrates and the others find the work done (concurrent
//! `CREATE TABLE IF NOT EXISTS` races on the catalog and fails with 23505). The
//! whole check-and-migrate is one transaction (PostgreSQL's DDL is
//! transactional), which also keeps the lock on one server connection behind a
//! transaction-pooling PgBouncer.
//!
//! Migrations are additive: a node still running the previous version keeps
//! working while a newer one migrates the shared database under it.

use std::time::Duration;

use tokio_postgres::NoTls;

use super::StoreError;
use super::postgres::{pg_error, sql};

/// `(version, what it does, SQL)`, oldest first. Never edit a released one: add.
const MIGRATIONS: &[(i32, &str, &str)] = &[(1, "key-value and atomic-add tables", sql::SCHEMA_V1)];

/// The advisory lock's key: any fixed 64-bit number other applications are unlikely to use.
const LOCK_KEY: i64 = 0x5345_4355_5249_5800; // "SECURIX\0"

/// How long a node waits for another's migration before it gives up.
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// Brings the database to the newest schema this build knows, on a connection of its
/// own (closed after, which also releases the lock should anything fail midway).
pub(super) async fn migrate(config: &tokio_postgres::Config) -> Result<(), StoreError> {
    let (client, connection) = config.connect(NoTls).await.map_err(pg_error("connect"))?;
    let driver = tokio::spawn(connection);
    let migrated = async {
        client
            .batch_execute(&format!("SET statement_timeout = {}", LOCK_WAIT.as_millis()))
            .await
            .map_err(pg_error("SET statement_timeout"))?;
        client.batch_execute("BEGIN").await.map_err(pg_error("BEGIN"))?;
        let done = migrate_locked(&client).await;
        let end = if done.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = client.batch_execute(end).await.map_err(pg_error("COMMIT"));
        done.and(ended)
    }
    .await;
    drop(client);
    let _ = driver.await;
    migrated
}

/// Inside the caller's transaction: takes the lock, reads the version, applies
/// what is newer.
async fn migrate_locked(client: &tokio_postgres::Client) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(pg_error("pg_advisory_xact_lock"))?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS securix_schema (version integer PRIMARY KEY, \
             description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .map_err(pg_error("CREATE TABLE securix_schema"))?;
    let row = client
        .query_one("SELECT coalesce(max(version), 0) FROM securix_schema", &[])
        .await
        .map_err(pg_error("SELECT the schema version"))?;
    let current: i32 = row.try_get(0).map_err(pg_error("SELECT the schema version"))?;
    for &(version, description, statements) in MIGRATIONS.iter().filter(|(v, ..)| *v > current) {
        client.batch_execute(statements).await.map_err(pg_error("a schema migration"))?;
        client
            .execute(
                "INSERT INTO securix_schema (version, description) VALUES ($1, $2)",
                &[&version, &description],
            )
            .await
            .map_err(pg_error("a schema migration"))?;
        tracing::info!(version, description, "PostgreSQL schema migrated");
    }
    let newest = MIGRATIONS.last().map_or(0, |(v, ..)| *v);
    if current > newest {
        tracing::warn!(
            database = current,
            this_node = newest,
            "the PostgreSQL schema is newer than this node knows: a newer node migrated it"
        );
    }
    Ok(())
}
