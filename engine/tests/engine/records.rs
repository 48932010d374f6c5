//! The data layer over a real store: indexes, upserts, events committed with the
//! state they describe, and secrets that never reach the store in the clear.

use securix_engine::model::connection::{self, Account, ConnectionDraft, ConnectionStatus, TokenSet};
use securix_engine::model::event::{self, EventDraft, EventKind};
use securix_engine::model::integration::{self, IntegrationDraft};
use securix_engine::model::session::{self, AuthSession, Flow, SessionStatus};
use securix_engine::model::{RecordError, api_key, ids, project};
use securix_engine::store::Store;
use securix_engine::util::clock::Timestamp;
use securix_engine::util::secret::SecretString;
use securix_engine::vault::{MasterKey, Vault};

const NOW: Timestamp = Timestamp(1_700_000_000_000);
const ACCESS: &str = "ya29.KNOWN-ACCESS-TOKEN-0123456789";
const REFRESH: &str = "1//KNOWN-REFRESH-TOKEN-abcdef";
const CLIENT_SECRET: &str = "GOCSPX-KNOWN-CLIENT-SECRET";

fn tokens(access: &str) -> TokenSet {
    TokenSet {
        access_token: SecretString::new(access),
        refresh_token: Some(SecretString::new(REFRESH)),
        id_token: None,
        token_type: "Bearer".into(),
        expires_at: Some(NOW.plus_secs(3600)),
    }
}

fn draft(project_id: &str, account: &str, scopes: &[&str], access: &str) -> ConnectionDraft {
    ConnectionDraft {
        params: Default::default(),
        project_id: project_id.into(),
        entity_id: "user_123".into(),
        integration: "gmail".into(),
        provider: "google".into(),
        account: Account { id: account.into(), email: Some(format!("{account}@example.com")) },
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        status: ConnectionStatus::Active,
        tokens: tokens(access),
        recheck_at: None,
    }
}

async fn new_project(store: &Store) -> String {
    store.run(|tx| async move { project::create(&tx, "Acme", NOW).await }).await.unwrap().id
}

#[tokio::test]
async fn api_keys_authenticate_by_hash_and_die_on_revoke() {
    let store = Store::memory();
    let project_id = new_project(&store).await;
    let (record, secret) = store
        .run(|tx| {
            let project_id = project_id.clone();
            async move { api_key::issue(&tx, &project_id, "backend", NOW) }
        })
        .await
        .unwrap();
    assert!(secret.expose().starts_with("sxk_") && api_key::is_well_formed(secret.expose()));
    assert!(!format!("{record:?}").contains(secret.expose()), "only the hash is kept");
    let tx = store.begin().await.unwrap();
    let found = api_key::authenticate(&tx, secret.expose()).await.unwrap().unwrap();
    assert_eq!(found.project_id, project_id);
    // One changed character fails the checksum before any lookup.
    let mut typo = secret.expose().to_owned();
    typo.replace_range(5..6, if &typo[5..6] == "a" { "b" } else { "a" });
    assert!(!api_key::is_well_formed(&typo));
    assert!(api_key::authenticate(&tx, &typo).await.unwrap().is_none());
    assert!(api_key::authenticate(&tx, "sxk_").await.unwrap().is_none());

    store
        .run(|tx| {
            let (project_id, key_id) = (project_id.clone(), record.id.clone());
            async move { api_key::revoke(&tx, &project_id, &key_id).await }
        })
        .await
        .unwrap();
    let tx = store.begin().await.unwrap();
    assert!(api_key::authenticate(&tx, secret.expose()).await.unwrap().is_none());
}

#[tokio::test]
async fn reconnecting_an_account_updates_its_connection() {
    let store = Store::memory();
    let vault = Vault::open(store.clone(), MasterKey::generate()).await.unwrap();
    let project_id = new_project(&store).await;
    let upsert = |scopes: &'static [&'static str], access: &'static str| {
        let (store, vault, project_id) = (store.clone(), vault.clone(), project_id.clone());
        async move {
            store
                .run(|tx| {
                    let (vault, draft) = (vault.clone(), draft(&project_id, "acct-1", scopes, access));
                    async move { connection::upsert(&tx, &vault, draft, NOW).await }
                })
                .await
                .unwrap()
        }
    };
    let (first, created) = upsert(&["gmail.readonly"], ACCESS).await;
    assert!(created);
    let (second, created) = upsert(&["gmail.readonly", "gmail.send"], "ya29.SECOND").await;
    assert!(!created);
    assert_eq!(first.id, second.id, "same account, same connection id");
    let tx = store.begin().await.unwrap();
    let listed = connection::list(&tx, &project_id, "user_123").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].scopes, ["gmail.readonly", "gmail.send"]);
    assert_eq!(listed[0].tokens(&vault).await.unwrap().access_token.expose(), "ya29.SECOND");
    // Neither the record's Debug nor its JSON carries a token.
    let shown = format!("{:?} {}", listed[0], serde_json::to_string(&listed[0]).unwrap());
    assert!(!shown.contains("ya29") && !shown.contains(REFRESH), "{shown}");
    assert!(!format!("{:?}", tokens(ACCESS)).contains("ya29"));
}

#[tokio::test]
async fn events_commit_with_their_state_change_or_not_at_all() {
    let store = Store::memory();
    let vault = Vault::open(store.clone(), MasterKey::generate()).await.unwrap();
    let project_id = new_project(&store).await;
    let change = |fail: bool| {
        let (vault, project_id) = (vault.clone(), project_id.clone());
        move |tx: securix_engine::store::Tx| {
            let (vault, project_id) = (vault.clone(), project_id.clone());
            async move {
                let (conn, _) =
                    connection::upsert(&tx, &vault, draft(&project_id, "acct-9", &["s"], ACCESS), NOW)
                        .await?;
                let event_draft = EventDraft {
                    entity_id: Some(conn.entity_id.clone()),
                    connection_id: Some(conn.id.clone()),
                    ..Default::default()
                };
                event::append(&tx, &project_id, EventKind::ConnectionCreated, event_draft, NOW).await?;
                if fail {
                    return Err(RecordError::Invalid { what: "test", why: "abort".into() });
                }
                Ok(conn)
            }
        }
    };
    assert!(store.run(change(true)).await.is_err());
    let tx = store.begin().await.unwrap();
    assert!(connection::list(&tx, &project_id, "user_123").await.unwrap().is_empty());
    assert!(event::list(&tx, &project_id, None, 100).await.unwrap().is_empty());
    let outboxed: usize = {
        let mut total = 0;
        for shard in 0..securix_engine::model::keys::SHARDS {
            total += securix_engine::model::outbox::len(&tx, shard).await.unwrap();
        }
        total
    };
    assert_eq!(outboxed, 0);

    let conn = store.run(change(false)).await.unwrap();
    let tx = store.begin().await.unwrap();
    let events = event::list(&tx, &project_id, None, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].connection_id.as_deref(), Some(conn.id.as_str()));
    let json = serde_json::to_string(&events[0]).unwrap();
    assert!(json.contains("\"type\":\"connection.created\"") && !json.contains("ya29"), "{json}");
    let shard = securix_engine::model::keys::shard_of(&project_id, "user_123");
    let (outbox, _) =
        securix_engine::model::outbox::due(&tx, shard, NOW, 100, 10, None, |_| false).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].event_id, events[0].id);
    // Paging with `after`.
    store
        .run(|tx| {
            let project_id = project_id.clone();
            async move {
                event::append(&tx, &project_id, EventKind::SessionCompleted, EventDraft::default(), NOW).await
            }
        })
        .await
        .unwrap();
    let tx = store.begin().await.unwrap();
    let after = event::list(&tx, &project_id, Some(&events[0].id), 100).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].kind, EventKind::SessionCompleted);
    assert_eq!(after[0].seq, 2);
}

#[tokio::test]
async fn device_codes_index_live_sessions_only() {
    let store = Store::memory();
    let project_id = new_project(&store).await;
    let session = AuthSession {
        id: ids::mint("ses"),
        project_id: project_id.clone(),
        agent_id: "cli".into(),
        entity_id: "user_123".into(),
        flow: Flow::Device,
        status: SessionStatus::Pending,
        providers: Default::default(),
        sxc_challenge: None,
        origin: None,
        device_code: Some("BCDFGHJK".into()),
        interval_secs: 5,
        browser_binding: None,
        error: None,
        created_at: NOW,
        expires_at: NOW.plus_secs(600),
    };
    let create = |s: AuthSession| {
        let store = store.clone();
        async move {
            store
                .run(|tx| {
                    let s = s.clone();
                    async move { session::create(&tx, &s).await }
                })
                .await
        }
    };
    create(session.clone()).await.unwrap();
    let clash = AuthSession { id: ids::mint("ses"), ..session.clone() };
    assert!(matches!(create(clash.clone()).await, Err(RecordError::AlreadyExists(_))));
    let tx = store.begin().await.unwrap();
    assert_eq!(session::find_by_device_code(&tx, "BCDFGHJK").await.unwrap().unwrap().id, session.id);
    store
        .run(|tx| {
            let id = session.id.clone();
            async move { session::delete(&tx, &id).await }
        })
        .await
        .unwrap();
    let tx = store.begin().await.unwrap();
    assert!(session::find_by_device_code(&tx, "BCDFGHJK").await.unwrap().is_none());
    // The purged code is free again.
    create(clash).await.unwrap();
}

#[tokio::test]
async fn known_secrets_never_reach_the_redb_files_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    {
        let store = Store::open_redb(&path, Default::default()).unwrap();
        let vault = Vault::open(store.clone(), MasterKey::generate()).await.unwrap();
        let project_id = new_project(&store).await;
        let conn = store
            .run(|tx| {
                let (vault, project_id) = (vault.clone(), project_id.clone());
                async move {
                    let secret_draft = IntegrationDraft {
                        key: "gmail".into(),
                        provider: "google".into(),
                        client_id: "client-1".into(),
                        client_secret: SecretString::new(CLIENT_SECRET),
                        scopes: vec![],
                        config: serde_json::Value::Null,
                    };
                    integration::put(&tx, &vault, &project_id, secret_draft, None, NOW).await?;
                    let (conn, _) =
                        connection::upsert(&tx, &vault, draft(&project_id, "acct", &["s"], ACCESS), NOW)
                            .await?;
                    Ok::<_, RecordError>(conn)
                }
            })
            .await
            .unwrap();
        // Still readable through the vault.
        let tx = store.begin().await.unwrap();
        let stored = integration::get(&tx, &project_id, "gmail").await.unwrap().unwrap();
        assert_eq!(stored.client_secret(&vault).await.unwrap().expose(), CLIENT_SECRET);
        assert_eq!(conn.tokens(&vault).await.unwrap().access_token.expose(), ACCESS);
    }
    // The store is the redb file and its commit log (records not flushed yet).
    let mut raw = Vec::new();
    for file in std::fs::read_dir(dir.path()).unwrap() {
        raw.extend(std::fs::read(file.unwrap().path()).unwrap());
    }
    let contains = |needle: &str| raw.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(contains("acct@example.com"), "the scan must see plaintext record fields");
    for secret in [ACCESS, REFRESH, CLIENT_SECRET] {
        assert!(!contains(secret), "{secret} is in the raw store files");
    }
}
