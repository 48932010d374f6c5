//! Host bindings, one module per WIT version the host supports. Released WIT
//! versions are frozen (`sdk-plugin/wit/vX.Y.Z/`), so these never change; a new
//! version adds a module and a line in `SUPPORTED_VERSIONS`.

pub mod v0_1_0 {
    wasmtime::component::bindgen!({
        path: "../sdk-plugin/wit/v0.1.0",
        world: "provider-plugin",
        imports: { default: async },
        exports: { default: async },
    });
}

pub mod v0_2_0 {
    wasmtime::component::bindgen!({
        path: "../sdk-plugin/wit/v0.2.0",
        world: "provider-plugin",
        imports: { default: async },
        exports: { default: async },
    });
}

/// The version the host works in; older ones are adapted to it (`compat_v0_1.rs`).
pub use v0_2_0 as current;

/// WIT package versions of `securix:provider` this host can run.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.1.0", "0.2.0"];

/// The export a plugin must have, without its version.
pub const PROVIDER_EXPORT: &str = "securix:provider/provider";
