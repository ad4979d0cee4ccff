fn main() {
    // The bundled SQLCipher exports sqlite3_* symbols; WebKitGTK and libsoup in the same process
    // would bind to them instead of the system SQLite. Keep our copy private to the binary.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,--exclude-libs,ALL");
    }
    // Declaring the app's commands generates one `allow-<command>` permission each, so the
    // capability file can grant exactly these and nothing else.
    let commands = &[
        "vault_state",
        "create_vault",
        "unlock_vault",
        "lock_vault",
        "note_activity",
        "list_contacts",
        "search_contacts",
        "get_contact",
        "create_contact",
        "update_contact",
        "delete_contact",
        "erase_contact",
        "probe_server",
        "login",
        "logout",
        "sync_now",
        "sync_status",
        "sync_ledger",
        "list_conflicts",
        "resolve_conflict",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("failed to run tauri-build");
}
