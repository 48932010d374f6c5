//! A pending grant: tokens a popup session obtained from a provider, sealed and
//! parked until the app confirms the session with its `sxc`. Only then do they
//! become (or update) a connection; an unconfirmed grant dies with its session.

use serde::{Deserialize, Serialize};

use super::connection::{Account, TokenSet};
use super::{RecordError, keys, put_json};
use crate::store::Tx;
use crate::vault::{Ciphertext, Vault};

const WHAT: &str = "pending grant";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingGrant {
    pub session_id: String,
    pub integration: String,
    pub provider: String,
    pub account: Account,
    pub scopes: Vec<String>,
    tokens: Ciphertext,
    /// For credentials their entry re-checks: when first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recheck_at: Option<crate::util::clock::Timestamp>,
}

fn record_key(session_id: &str, integration: &str) -> Vec<u8> {
    keys::index("pending_grant").pack(&(session_id, integration))
}

impl PendingGrant {
    pub fn new(
        vault: &Vault,
        session_id: &str,
        integration: &str,
        provider: &str,
        account: Account,
        scopes: Vec<String>,
        tokens: &TokenSet,
    ) -> Result<Self, RecordError> {
        let tokens = tokens.seal(vault, &record_key(session_id, integration))?;
        Ok(PendingGrant {
            session_id: session_id.to_owned(),
            integration: integration.to_owned(),
            provider: provider.to_owned(),
            account,
            scopes,
            tokens,
            recheck_at: None,
        })
    }

    pub async fn tokens(&self, vault: &Vault) -> Result<TokenSet, RecordError> {
        TokenSet::open(vault, &record_key(&self.session_id, &self.integration), &self.tokens).await
    }
}

/// Clears every pending grant of a session.
pub fn clear_session(tx: &Tx, session_id: &str) -> Result<(), RecordError> {
    let (begin, end) = keys::index("pending_grant").subspace(&(session_id,)).range();
    tx.clear_range(&begin, &end)?;
    Ok(())
}

pub fn put(tx: &Tx, grant: &PendingGrant) -> Result<(), RecordError> {
    put_json(tx, &record_key(&grant.session_id, &grant.integration), grant, WHAT)
}

/// Every pending grant of a session.
pub async fn list(tx: &Tx, session_id: &str) -> Result<Vec<PendingGrant>, RecordError> {
    let space = keys::index("pending_grant").subspace(&(session_id,));
    super::list_json(tx, space.range(), Default::default(), WHAT).await
}

/// Deletes a session's pending grants (after confirmation, or with the session).
pub fn purge(tx: &Tx, session_id: &str) -> Result<(), RecordError> {
    let (begin, end) = keys::index("pending_grant").subspace(&(session_id,)).range();
    tx.clear_range(&begin, &end)?;
    Ok(())
}
