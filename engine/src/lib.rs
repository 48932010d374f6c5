//! The embeddable SecuriX engine: the transactional store, the token vault and the
//! records every flow reads and writes. No HTTP server lives here.

pub mod clock;
pub mod model;
pub mod plugins;
pub mod secret;
pub mod store;
pub mod vault;
