//! liaison-core integration tests; modules mirror `src/`.

mod canned;
mod conflicts;
mod contacts;
mod desk;
mod merge;
mod store;
mod sync;
mod write;

use liaison_core::store::Store;
use liaison_core::vault::DataKey;

/// A fresh encrypted store in a temp dir (no vault: the key is random).
pub fn temp_store() -> (tempfile::TempDir, Store, DataKey) {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = DataKey::generate();
    let store = Store::create(&dir.path().join("liaison.db"), &key).expect("create store");
    (dir, store, key)
}
