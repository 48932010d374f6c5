//! OAuth client pieces the flows share: PKCE and single-use `state` transactions.

pub mod pkce;
pub mod transaction;
