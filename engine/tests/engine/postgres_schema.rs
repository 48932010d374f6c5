//! The PostgreSQL schema under nodes started together, and errors that say what failed.

use securix_engine::store::{PostgresBackend, Store, StoreError};

use crate::support::postgres::Postgres;

/// Eight backends connecting at the same instant to an empty database all come up,
/// and the schema's first version is recorded exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backends_started_together_on_an_empty_database_all_come_up() {
    let server = Postgres::start();
    let connects = (0..8).map(|_| PostgresBackend::connect(&server.url, 2));
    for connected in futures_util::future::join_all(connects).await {
        connected.unwrap();
    }
    let (client, connection) = tokio_postgres::connect(&server.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let rows = client.query("SELECT version FROM securix_schema ORDER BY version", &[]).await.unwrap();
    let versions: Vec<i32> = rows.iter().map(|row| row.get(0)).collect();
    assert_eq!(versions, [1]);

    // A store error names the SQLSTATE and the statement, never a bare "db error".
    let store = Store::new(PostgresBackend::connect(&server.url, 2).await.unwrap());
    client.batch_execute("DROP TABLE kv").await.unwrap();
    let tx = store.begin().await.unwrap();
    let failed = tx.get(b"key").await.unwrap_err();
    let StoreError::Backend(what) = &failed else { panic!("expected ST0008, got {failed:?}") };
    assert!(what.contains("42P01") && what.contains("GET"), "{what}");
    assert!(!what.contains("db error"), "{what}");
}
