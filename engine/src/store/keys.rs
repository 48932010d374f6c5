//! Keys are FoundationDB tuples (pure Rust `foundationdb-tuple`), so they sort by
//! their elements and a prefix tuple names a subspace whose keys form one range.

pub use foundationdb_tuple::{PackError as TupleError, Subspace, pack, unpack};
