//! Exports `securix:provider/provider@9.0.0`: a version from the future.

wit_bindgen::generate!({ path: "wit", world: "provider-plugin" });

struct Future;

impl exports::securix::provider::provider::Guest for Future {
    fn info() -> String {
        "from the future".into()
    }
}

export!(Future);
