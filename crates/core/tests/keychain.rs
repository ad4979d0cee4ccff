//! The OS keychain: a vault in keychain mode unlocks without a passphrase; where no keychain works
//! (headless Linux), Liaison says so and points to passphrase mode instead of silently
//! falling back.
//!
//! `cargo xtask test` runs this twice: once as is (usually no Secret Service: the refusal is
//! tested) and once inside `dbus-run-session` with gnome-keyring unlocked and
//! `LIAISON_EXPECT_KEYCHAIN=1` (the round trip is tested, and a missing keychain is a failure).

use liaison_core::contacts::{self, ContactInput};
use liaison_core::keychain::{Keychain, NativeKeychain};
use liaison_core::vault::{self, UnlockMode};
use liaison_core::{ErrorCode, Profile};

fn expect_keychain() -> bool {
    std::env::var_os("LIAISON_EXPECT_KEYCHAIN").is_some()
}

#[test]
fn keychain_mode_round_trips_or_is_refused_with_an_explanation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut profile = Profile::new(dir.path());
    match NativeKeychain.probe() {
        Ok(()) => {
            profile.create(UnlockMode::Keychain, None).expect("create a keychain vault");
            contacts::create(
                profile.store().expect("unlocked"),
                ContactInput { display_name: "Keychain Kept".into(), ..Default::default() },
            )
            .expect("add");
            profile.lock();
            profile.unlock(None).expect("the keychain unlocks the vault without a passphrase");
            assert_eq!(contacts::count(profile.store().expect("unlocked")).expect("count"), 1);
            let file = vault::read(dir.path()).expect("read").expect("vault");
            assert_eq!(file.mode, UnlockMode::Keychain);
            let text = std::fs::read_to_string(vault::vault_path(dir.path())).expect("vault.json");
            assert!(!text.contains("wrapped_key"), "no key material in vault.json in keychain mode");
            profile.lock();
            vault::forget_keychain_entry(&file, &NativeKeychain).expect("clean up the keychain entry");
            assert_eq!(
                profile.unlock(None).expect_err("entry gone").code,
                ErrorCode::KeychainUnavailable,
                "without the entry the vault cannot open"
            );
        }
        Err(why) => {
            assert!(!expect_keychain(), "a Secret Service was expected here but did not work: {why}");
            let err = profile.create(UnlockMode::Keychain, None).expect_err("no keychain");
            assert_eq!(err.code, ErrorCode::KeychainUnavailable);
            assert!(err.message.contains("passphrase"), "the refusal points to passphrase mode: {}", err.message);
            assert!(!profile.state().expect("state").exists, "no half-made vault is left behind");
        }
    }
}
