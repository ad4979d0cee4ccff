//! # liaison-desktop
//!
//! The Tauri 2 shell. It is glue: [`run`] registers state and commands; each command in
//! [`commands`] is a few lines over liaison-core (declared once: `build.rs` generates the handler
//! and the permissions from them); [`dto`] holds the IPC types whose TypeScript declarations are
//! generated for the UI. The web view can call only these commands (see `capabilities/main.json`)
//! under a strict content security policy.

pub mod commands;
pub mod dto;
pub mod state;

use liaison_core::{Profile, paths};

include!(concat!(env!("OUT_DIR"), "/commands.rs"));

/// Start the desktop app on the profile in `$LIAISON_DATA_DIR` or the per-user data directory.
pub fn run() {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_env("LIAISON_LOG")).init();
    let profile = Profile::new(paths::default_data_dir());
    let result = tauri::Builder::default()
        // Desktop notifications, sent from Rust only (the web view has no permission for them).
        .plugin(tauri_plugin_notification::init())
        // Web links of a thread open in the system's browser, through the `open_link` command
        // only (http and https; the web view has no permission for the plugin itself).
        .plugin(tauri_plugin_opener::init())
        .manage(state::AppState::new(profile))
        .setup(|app| {
            tauri::async_runtime::spawn(state::background_sync(app.handle().clone()));
            tauri::async_runtime::spawn(state::auto_lock(app.handle().clone()));
            Ok(())
        })
        .invoke_handler(app_commands!())
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("Liaison could not start: {e}");
        std::process::exit(1);
    }
}
