//! The admin token: `SECURIX_ADMIN_TOKEN` when set; otherwise one is generated on
//! first start, printed once, and only its SHA-256 is kept in the store.

use securix_engine::Engine;
use securix_engine::store::{StoreError, pack};
use securix_engine::util::secret::SecretString;

use crate::api::identity::token_hash;

/// A generated token's prefix: its own, as `sxk_` is an API key's and `sxa_` an
/// agent token's, so neither a person nor a secret scanner takes one for another.
const PREFIX: &str = "sxadm_";

fn stored_key() -> Vec<u8> {
    pack(&("admin", "token_sha256"))
}

pub async fn establish(engine: &Engine, configured: Option<&SecretString>) -> anyhow::Result<[u8; 32]> {
    if let Some(token) = configured {
        if token.expose().len() < 16 {
            anyhow::bail!("SECURIX_ADMIN_TOKEN must be at least 16 characters");
        }
        return Ok(token_hash(token.expose()));
    }
    let fresh = securix_engine::flows::oauth::pkce::random_token();
    let candidate = format!("{PREFIX}{}", fresh.expose());
    let candidate_hash = token_hash(&candidate);
    let (hash, created) = engine
        .store()
        .run(|tx| async move {
            if let Some(existing) = tx.get(&stored_key()).await? {
                let hash: [u8; 32] = existing
                    .try_into()
                    .map_err(|_| StoreError::Invalid("stored admin token hash is corrupt".into()))?;
                return Ok::<_, StoreError>((hash, false));
            }
            tx.set(&stored_key(), &candidate_hash)?;
            Ok((candidate_hash, true))
        })
        .await?;
    if created {
        println!("Admin token (shown once; set SECURIX_ADMIN_TOKEN to choose your own): {candidate}");
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use securix_engine::model::{agent_token, api_key};

    #[test]
    fn a_generated_token_cannot_be_taken_for_another_secret() {
        for other in [agent_token::PREFIX, api_key::PREFIX] {
            assert!(!super::PREFIX.starts_with(other) && !other.starts_with(super::PREFIX), "{other}");
        }
    }
}
