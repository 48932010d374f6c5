//! redb durability: a child process commits in a loop and reports each commit it
//! saw acknowledged; it is killed with SIGKILL; the reopened file must hold every
//! acknowledged transaction whole, and no transaction in part.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use securix_engine::store::{RangeOptions, Store, StoreError};

const CHILD_ENV: &str = "SECURIX_DURABILITY_CHILD_DB";
/// Keys each transaction writes; all or none of them must survive.
const KEYS_PER_TX: usize = 4;
const WRITERS: usize = 4;

fn key(writer: usize, seq: u64, part: usize) -> Vec<u8> {
    format!("w{writer}/{seq:010}/{part}").into_bytes()
}

/// The child: runs only when the parent starts this binary with `CHILD_ENV` set.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "started by redb_survives_sigkill as a child process"]
async fn durability_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else { return };
    let store = Store::open_redb(std::path::Path::new(&path), Default::default()).unwrap();
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for seq in 0.. {
                store
                    .run(|tx| async move {
                        for part in 0..KEYS_PER_TX {
                            // Values big enough that a torn write would be visible.
                            tx.set(&key(writer, seq, part), &vec![seq as u8; 2000])?;
                        }
                        Ok::<_, StoreError>(())
                    })
                    .await
                    .unwrap();
                println!("ack {writer} {seq}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "durability::durability_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut acked = [None::<u64>; WRITERS];
    let mut count = 0;
    let started = Instant::now();
    for line in stdout.lines() {
        let line = line.unwrap();
        let mut words = line.split_whitespace();
        if words.next() != Some("ack") {
            continue;
        }
        let writer: usize = words.next().unwrap().parse().unwrap();
        let seq: u64 = words.next().unwrap().parse().unwrap();
        acked[writer] = Some(seq);
        count += 1;
        if count >= 3000 || started.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    // SIGKILL, mid-stream: no chance to flush or close anything.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(count > 0, "the child acknowledged nothing");

    let store = Store::open_redb(&path, Default::default()).unwrap();
    let tx = store.begin().await.unwrap();
    for (writer, last_acked) in acked.iter().enumerate() {
        let prefix = format!("w{writer}/").into_bytes();
        let end = format!("w{writer}0").into_bytes();
        let pairs = tx.get_range(&prefix, &end, RangeOptions::default()).await.unwrap();
        assert_eq!(pairs.len() % KEYS_PER_TX, 0, "writer {writer}: a transaction survived in part");
        let survived = (pairs.len() / KEYS_PER_TX) as u64;
        if let Some(last) = last_acked {
            assert!(
                survived > *last,
                "writer {writer}: acked {last} but only {survived} transactions survived"
            );
        }
        for seq in 0..survived {
            for part in 0..KEYS_PER_TX {
                let value = tx.get(&key(writer, seq, part)).await.unwrap();
                assert_eq!(value, Some(vec![seq as u8; 2000]), "writer {writer} seq {seq} part {part}");
            }
        }
    }
}
