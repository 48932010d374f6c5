//! Small parts every room uses: time, secrets that never print, and the cache
//! of answers kept while the store's access epochs hold.

pub mod bounded;
pub mod clock;
pub mod epoch_cache;
pub mod secret;
