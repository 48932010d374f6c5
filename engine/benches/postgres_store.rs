//! The PostgreSQL backend against a bare client sending the very same statements
//! (`store::postgres_sql`) on its own connections, in the same run: a read-modify-write
//! of one session-sized record (≈750 B) per transaction, one client at a time and 16
//! at once. Prints transactions per second and the ratio (target: store ≤ 1.2× bare).
//!
//! `cargo bench -p securix-engine --features postgres --bench postgres_store`
//! (starts its own PostgreSQL, or uses `DATABASE_URL`).

use std::time::{Duration, Instant};

use securix_engine::store::{PostgresBackend, Store, StoreError, postgres_sql as sql};

#[path = "../tests/engine/support/postgres.rs"]
mod postgres;

const TRANSACTIONS: usize = 3000;
const CLIENTS: usize = 16;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn key(client: usize, n: usize) -> Vec<u8> {
    format!("bench/{client:02}/{:04}", n % 100).into_bytes()
}

async fn through_store(store: Store, client: usize, count: usize, record: Vec<u8>) -> Result<(), Error> {
    for n in 0..count {
        let key = key(client, n);
        store
            .run(|tx| {
                let (key, record) = (key.clone(), record.clone());
                async move {
                    let _old = tx.get(&key).await?;
                    tx.set(&key, &record)?;
                    Ok::<_, StoreError>(())
                }
            })
            .await?;
    }
    Ok(())
}

async fn bare(url: String, client: usize, count: usize, record: Vec<u8>) -> Result<(), Error> {
    let (pg, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let (get, set) = (pg.prepare(sql::GET).await?, pg.prepare(sql::SET).await?);
    for n in 0..count {
        let key = key(client, n);
        // Serialization failures happen here too (SSI locks index pages): retry them.
        loop {
            let attempt = async {
                pg.batch_execute(sql::BEGIN).await?;
                let _old = pg.query_one(&get, &[&key]).await?;
                pg.execute(&set, &[&key, &record]).await?;
                pg.batch_execute("COMMIT").await
            };
            match attempt.await {
                Ok(()) => break,
                Err(error)
                    if error.code() == Some(&tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE) =>
                {
                    pg.batch_execute("ROLLBACK").await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(())
}

/// Runs `clients` workers of `TRANSACTIONS / clients` transactions; answers tx/s.
async fn measure<F, Fut>(clients: usize, worker: F) -> Result<f64, Error>
where
    F: Fn(usize, usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients).map(|c| tokio::spawn(worker(c, TRANSACTIONS / clients))).collect();
    for task in tasks {
        task.await??;
    }
    Ok(TRANSACTIONS as f64 / started.elapsed().max(Duration::from_micros(1)).as_secs_f64())
}

fn main() -> Result<(), Error> {
    let server = postgres::Postgres::start();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Store::new(PostgresBackend::connect(&server.url, CLIENTS).await?);
        let record = vec![b'r'; 750];
        for clients in [1, CLIENTS] {
            // Warm both paths (connections, prepared statements, pages) first.
            measure(clients, |c, n| through_store(store.clone(), c, n.min(50), record.clone())).await?;
            measure(clients, |c, n| bare(server.url.clone(), c, n.min(50), record.clone())).await?;
            let bare_rate = measure(clients, |c, n| bare(server.url.clone(), c, n, record.clone())).await?;
            let store_rate = measure(clients, |c, n| through_store(store.clone(), c, n, record.clone())).await?;
            println!(
                "{clients:>2} client(s): bare {bare_rate:>7.0} tx/s, store {store_rate:>7.0} tx/s, store costs {:.2}× bare (target ≤ 1.2×)",
                bare_rate / store_rate
            );
        }
        Ok::<_, Error>(())
    })
}
