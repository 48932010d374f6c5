//! The auth flows: sessions (`sessions.rs`), what the end-user pages drive
//! (`consent.rs`), the popup's `sxc` confirmation (`confirm.rs`), and the device
//! code pieces.

pub mod confirm;
pub mod consent;
pub mod device_code;
pub mod device_guard;
pub mod oauth;
pub mod sessions;
pub mod views;
