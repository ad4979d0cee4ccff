//! `liaison`: everything the desktop app can do with data, from a script.
//!
//! The passphrase comes from `LIAISON_PASSPHRASE` when set, else the OS keychain (keychain-mode
//! vaults), else a prompt on the terminal. The data directory is `--data-dir`, else
//! `LIAISON_DATA_DIR`, else the same per-user directory the desktop app uses. Every listing takes
//! `--json`. Errors go to stderr as `error: <message>` (or `{"code","message"}` with `--json`) and
//! the exit code is non-zero.

mod args;
mod commands;
mod desk;
mod prompt;

use clap::Parser;
use liaison_core::Error;
use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LIAISON_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = args::Cli::parse();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e, json);
            ExitCode::FAILURE
        }
    }
}

/// The reader of our output went away (e.g. `| head`): not a failure.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn report(e: &anyhow::Error, json: bool) {
    let core = e.downcast_ref::<Error>();
    if json {
        let body = match core {
            Some(err) => err.body(),
            None => {
                liaison_protocol::error::ErrorBody::new(liaison_protocol::error::ErrorCode::Internal, format!("{e:#}"))
            }
        };
        eprintln!("{}", serde_json::to_string(&body).unwrap_or_else(|_| format!("{e:#}")));
    } else {
        eprintln!("error: {e:#}");
    }
}
