//! The PostgreSQL backend (feature `postgres`): the store trait over one table,
//! `kv(key bytea primary key, value bytea)`, in SERIALIZABLE transactions.
//!
//! PostgreSQL's serializable snapshot isolation does what our resolver does for the
//! embedded backends: it tracks what a transaction read and fails the commit with
//! SQLSTATE 40001 when a concurrent commit invalidated it; that becomes
//! `StoreError::Conflict` and `Store::run` retries.
//!
//! Atomic adds must not conflict (FoundationDB's ADD adds no read), but two
//! SERIALIZABLE updates of one row always do. So an add is a blind insert of a delta
//! row into `kv_add`; a read folds a key's deltas into its value, and a set or clear
//! of the key deletes the deltas it saw. Deltas a concurrent adder inserted after the
//! snapshot stay, which is exactly the serial order PostgreSQL reports. A background
//! task folds long delta chains into `kv`.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio::sync::Mutex;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row, Statement};

use super::backend::{Backend, Commit, KeyRange, Mutation, Snapshot, add_le};
use super::limits::MAX_TRANSACTION_AGE;
use super::postgres_schema;
use super::{KeyValue, StoreError};

/// The statements, public so the benchmark can send the very same ones bare.
pub mod sql {
    /// The schema's first version (`IF NOT EXISTS`: databases made before versions were
    /// recorded already hold it).
    pub const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS kv (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE IF NOT EXISTS kv_add (id bigserial PRIMARY KEY, key bytea NOT NULL, delta bigint NOT NULL);
CREATE INDEX IF NOT EXISTS kv_add_by_key ON kv_add (key);";

    pub const BEGIN: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";

    /// A key's value with its pending deltas (their sum as text: it may exceed 64 bits).
    pub const GET: &str = "SELECT (SELECT value FROM kv WHERE key = $1),
    (SELECT sum(delta)::text FROM kv_add WHERE key = $1)";

    /// Keys of `[$1, $2)` from either table, each with its value and summed deltas.
    pub const RANGE: &str = "
WITH deltas AS (SELECT key, sum(delta)::text AS delta FROM kv_add WHERE key >= $1 AND key < $2 GROUP BY key),
     base AS (SELECT key, value FROM kv WHERE key >= $1 AND key < $2)
SELECT coalesce(base.key, deltas.key) AS key, base.value, deltas.delta
FROM base FULL OUTER JOIN deltas ON base.key = deltas.key";

    pub const SET: &str = "WITH gone AS (DELETE FROM kv_add WHERE key = $1)
    INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";
    pub const CLEAR: &str = "WITH gone AS (DELETE FROM kv_add WHERE key = $1) DELETE FROM kv WHERE key = $1";
    pub const CLEAR_RANGE: &str = "WITH gone AS (DELETE FROM kv_add WHERE key >= $1 AND key < $2)
    DELETE FROM kv WHERE key >= $1 AND key < $2";
    pub const ADD: &str = "INSERT INTO kv_add (key, delta) VALUES ($1, $2)";
}

/// Delta chains longer than this are folded into `kv` by the background task.
const FOLD_THRESHOLD: i64 = 32;
const FOLD_EVERY: Duration = Duration::from_secs(10);

/// See the module documentation.
pub struct PostgresBackend {
    pool: Pool,
}

impl PostgresBackend {
    /// Connects to `url` (`postgres://user:password@host:port/database`), creates the
    /// tables if needed and starts the delta folder. Needs a Tokio runtime.
    pub async fn connect(url: &str, max_connections: usize) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Backend(format!("bad PostgreSQL URL: {e}")))?;
        config.connect_timeout(Duration::from_secs(10));
        // A statement never outlives the store's transaction limit.
        config.options(format!("-c statement_timeout={}", MAX_TRANSACTION_AGE.as_millis()));
        postgres_schema::migrate(&config).await?;
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .wait_timeout(Some(MAX_TRANSACTION_AGE))
            .create_timeout(Some(Duration::from_secs(10)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Backend(format!("PostgreSQL pool: {e}")))?;
        tokio::spawn(fold_deltas_forever(pool.clone()));
        Ok(PostgresBackend { pool })
    }
}

async fn checkout(pool: &Pool) -> Result<Object, StoreError> {
    pool.get().await.map_err(|e| StoreError::Transient(format!("no PostgreSQL connection: {e}")))
}

/// SQLSTATE → the store's errors: serialization failures and deadlocks are
/// conflicts, and so is "current transaction is aborted" (25P02): an earlier
/// statement of this very transaction failed (seen under load in the cluster
/// bench), nothing of it can commit, and running it again is the answer. Any other
/// error names the statement, the SQLSTATE and PostgreSQL's own message.
pub(super) fn pg_error(statement: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |error| classify(statement, error)
}

fn classify(statement: &str, error: tokio_postgres::Error) -> StoreError {
    match error.code() {
        Some(code)
            if *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::IN_FAILED_SQL_TRANSACTION =>
        {
            StoreError::Conflict
        }
        Some(code) if *code == SqlState::QUERY_CANCELED => {
            StoreError::TimedOut { elapsed_ms: MAX_TRANSACTION_AGE.as_millis() as u64 }
        }
        Some(code) => {
            // The message only: a DETAIL may quote the row's values.
            let message = error.as_db_error().map_or_else(|| error.to_string(), |db| db.message().to_owned());
            StoreError::Backend(format!("PostgreSQL {} in {statement}: {message}", code.code()))
        }
        None if error.is_closed() => {
            StoreError::Transient(format!("the PostgreSQL connection closed during {statement}"))
        }
        None => StoreError::Transient(format!(
            "PostgreSQL in {statement}: {}",
            std::error::Error::source(&error)
                .map_or_else(|| error.to_string(), |cause| format!("{error}: {cause}"))
        )),
    }
}

#[async_trait]
impl Backend for PostgresBackend {
    /// Takes a connection; BEGIN goes out with the transaction's first statement
    /// (pipelined, one round trip for both), and a snapshot that never ran one
    /// never begins at all.
    async fn begin(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        let client = checkout(&self.pool).await?;
        Ok(Box::new(PostgresSnapshot { open: Mutex::new(Some(Open { client, begun: false })) }))
    }

    fn name(&self) -> &'static str {
        "postgres"
    }
}

/// One SERIALIZABLE transaction on a pooled connection.
struct PostgresSnapshot {
    /// `None` once committed; a snapshot dropped with an open transaction rolls back.
    open: Mutex<Option<Open>>,
}

struct Open {
    client: Object,
    /// Whether BEGIN has been sent.
    begun: bool,
}

/// Runs `statement` on `client`, preceded by BEGIN in the same round trip when it
/// is the transaction's first (tokio-postgres sends requests in the order they
/// are first polled, and `try_join` polls BEGIN first).
async fn in_transaction<T>(
    client: &Object,
    begun: &mut bool,
    statement: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    if *begun {
        return statement.await;
    }
    *begun = true;
    let begin = async { client.batch_execute(sql::BEGIN).await.map_err(pg_error("BEGIN")) };
    let ((), answer) = futures_util::future::try_join(begin, statement).await?;
    Ok(answer)
}

impl Drop for PostgresSnapshot {
    fn drop(&mut self) {
        let Some(open) = self.open.get_mut().take() else { return };
        if !open.begun {
            return; // Back to the pool as it came.
        }
        match tokio::runtime::Handle::try_current() {
            // The connection goes back to the pool only once it is out of the transaction.
            Ok(runtime) => {
                runtime.spawn(roll_back(open.client));
            }
            Err(_) => drop(Object::take(open.client)),
        }
    }
}

/// Ends the connection's open transaction; a connection that cannot is discarded
/// rather than handed back to the pool mid-transaction.
async fn roll_back(client: Object) {
    if client.batch_execute("ROLLBACK").await.is_err() {
        drop(Object::take(client));
    }
}

fn already_committed() -> StoreError {
    StoreError::Invalid("transaction already committed".into())
}

/// The value a key's base and summed deltas make.
fn fold(value: Option<Vec<u8>>, delta: Option<String>) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(delta) = delta else { return Ok(value) };
    let sum: i128 = delta.parse().map_err(|_| StoreError::Backend(format!("bad delta sum {delta:?}")))?;
    // Wrapping, like FoundationDB's ADD on 8 bytes.
    Ok(Some(add_le(value.as_deref(), sum as i64)))
}

fn folded_pair(row: &Row) -> Result<Option<KeyValue>, StoreError> {
    let key: Vec<u8> = row.try_get(0).map_err(pg_error("RANGE"))?;
    let value = fold(row.try_get(1).map_err(pg_error("RANGE"))?, row.try_get(2).map_err(pg_error("RANGE"))?)?;
    Ok(value.map(|value| KeyValue { key, value }))
}

impl PostgresSnapshot {
    /// One read statement of this transaction (the first one also begins it).
    async fn read(
        &self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let mut guard = self.open.lock().await;
        let Open { client, begun } = guard.as_mut().ok_or_else(already_committed)?;
        let statement = client.prepare_cached(sql).await.map_err(pg_error(what))?;
        let query = async { client.query(&statement, params).await.map_err(pg_error(what)) };
        in_transaction(client, begun, query).await
    }
}

#[async_trait]
impl Snapshot for PostgresSnapshot {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let rows = self.read("GET", sql::GET, &[&key]).await?;
        let row = rows.first().ok_or_else(|| StoreError::Backend("GET answered no row".into()))?;
        fold(row.try_get(0).map_err(pg_error("GET"))?, row.try_get(1).map_err(pg_error("GET"))?)
    }

    async fn get_range(
        &self,
        range: &KeyRange,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let order = if reverse { "DESC" } else { "ASC" };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!("{} ORDER BY 1 {order} LIMIT $3", sql::RANGE);
        let rows = self.read("RANGE", &sql, &[&range.begin, &range.end, &limit]).await?;
        let mut pairs = Vec::with_capacity(rows.len());
        for row in &rows {
            pairs.extend(folded_pair(row)?);
        }
        Ok(pairs)
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        // The connection stays in the snapshot until the answer is in: a commit
        // abandoned midway (its future dropped) still rolls back on drop rather than
        // handing the pool a connection inside a transaction.
        let mut guard = self.open.lock().await;
        let Open { client, begun } = guard.as_mut().ok_or_else(already_committed)?;
        let written = if !*begun && commit.mutations.is_empty() {
            Ok(()) // Nothing read, nothing written: nothing to commit.
        } else {
            in_transaction(client, begun, apply(client, &commit.mutations)).await
        };
        let open = guard.take().ok_or_else(already_committed)?;
        if written.is_err() {
            roll_back(open.client).await;
        }
        written
    }
}

/// The writes, then COMMIT, sent at once: one round trip (per 30 writes). PostgreSQL tracked
/// the reads itself; after a failed statement it aborts the transaction, and the
/// first error is the one reported.
async fn apply(client: &Object, mutations: &[Mutation]) -> Result<(), StoreError> {
    let mut prepared = Vec::with_capacity(mutations.len());
    for mutation in mutations {
        let (name, sql) = statement_of(mutation);
        prepared.push(client.prepare_cached(sql).await.map_err(pg_error(name))?);
    }
    let commit = async { client.batch_execute("COMMIT").await.map_err(pg_error("COMMIT")) };
    let statements: Vec<_> = mutations.iter().zip(&prepared).collect();
    let mut chunks = statements.chunks(IN_ORDER).peekable();
    while let Some(chunk) = chunks.next() {
        let writes = futures_util::future::try_join_all(chunk.iter().map(|(m, s)| write(client, m, s)));
        if chunks.peek().is_some() {
            writes.await?;
        } else {
            return futures_util::future::try_join(writes, commit).await.map(drop);
        }
    }
    commit.await
}

/// `try_join_all` polls up to this many futures in order; more would go through
/// `FuturesOrdered`, whose first-poll order is not promised. Writes must reach the
/// server in order (a clear-range then a set inside it), so they go in chunks.
const IN_ORDER: usize = 30;

async fn write(client: &Object, mutation: &Mutation, statement: &Statement) -> Result<u64, StoreError> {
    let params: Vec<&(dyn ToSql + Sync)> = match mutation {
        Mutation::Set { key, value } => vec![key, value],
        Mutation::Clear { key } => vec![key],
        Mutation::ClearRange(range) => vec![&range.begin, &range.end],
        Mutation::Add { key, delta } => vec![key, delta],
    };
    client.execute(statement, &params).await.map_err(pg_error(statement_of(mutation).0))
}

/// A mutation's statement, with the name its errors give.
fn statement_of(mutation: &Mutation) -> (&'static str, &'static str) {
    match mutation {
        Mutation::Set { .. } => ("SET", sql::SET),
        Mutation::Clear { .. } => ("CLEAR", sql::CLEAR),
        Mutation::ClearRange(_) => ("CLEAR_RANGE", sql::CLEAR_RANGE),
        Mutation::Add { .. } => ("ADD", sql::ADD),
    }
}

/// Folds long delta chains into `kv`, so reads of busy counters stay short.
async fn fold_deltas_forever(pool: Pool) {
    loop {
        tokio::time::sleep(FOLD_EVERY).await;
        if pool.is_closed() {
            return;
        }
        if let Err(error) = fold_long_chains(&pool).await {
            tracing::debug!(%error, "folding atomic-add deltas failed; retried later");
        }
    }
}

async fn fold_long_chains(pool: &Pool) -> Result<(), StoreError> {
    let client = checkout(pool).await?;
    let long = "SELECT key FROM kv_add GROUP BY key HAVING count(*) > $1 LIMIT 100";
    let keys: Vec<Vec<u8>> = client
        .query(long, &[&FOLD_THRESHOLD])
        .await
        .map_err(pg_error("the delta fold's scan"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    drop(client);
    let backend = PostgresBackend { pool: pool.clone() };
    for key in keys {
        // Read-fold-write in one serializable transaction: concurrent adds either
        // land before it (and are folded) or after it (and stay as deltas).
        let snapshot = backend.begin().await?;
        let value = snapshot.get(&key).await?;
        if let Some(value) = value {
            snapshot
                .commit(Commit { reads: Vec::new(), mutations: vec![Mutation::Set { key, value }] })
                .await?;
        }
    }
    Ok(())
}
