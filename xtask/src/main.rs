//! `cargo xtask …`: set-up, build, run and test Liaison with one command each.
//!
//! Everything a fresh Debian 12 / Ubuntu machine lacks is installed here (apt packages via sudo
//! when not root, the UI's npm packages, tauri-driver for WebDriver tests), saying what and why.
//! When `CI` is set the Cargo target directory lives outside the checkout, so successive CI runs
//! on one machine reuse compiled dependencies.

mod setup;
mod tasks;
mod util;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

  run [--headless] [--demo]   install what is missing, build, open the desktop app
                              --headless: run under Xvfb and save a screenshot (no display needed)
                              --demo: use a demo profile filled with generated contacts
  test                        install what tests need, then run every test
  desktop-test                only the desktop app's WebDriver test (builds the UI, the binaries
                              and examples it needs first)
  server [ARGS…]              build and start liaison-server (default: serve on https://127.0.0.1:8443)
  bench [--full] [--store|--sync]
                              release benchmarks, written to docs/benchmarks.{json,md}:
                              the encrypted store (B5, B6; 100k contacts, 500k with --full) and
                              sync (B8-B11, B16 at 100k contacts, beside PouchDB);
                              --store / --sync: only one of them (the other's results are kept)
  bindings                    regenerate ui/src/api/bindings.ts from the Rust IPC types
  bundle                      build release installers (.deb, .rpm)
  setup                       only install missing system and npm packages";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        println!("{USAGE}");
        return Ok(());
    };
    let flag = |f: &str| rest.iter().any(|a| a == f);
    match cmd.as_str() {
        "run" => tasks::run_app(flag("--headless"), flag("--demo")),
        "test" => tasks::test(),
        "desktop-test" => tasks::desktop_test(),
        "server" => tasks::server(rest),
        "bench" => {
            let set = match (flag("--store"), flag("--sync")) {
                (true, false) => tasks::BenchSet::Store,
                (false, true) => tasks::BenchSet::Sync,
                _ => tasks::BenchSet::All,
            };
            tasks::bench(flag("--full"), set)
        }
        "bindings" => tasks::bindings(),
        "bundle" => tasks::bundle(),
        "setup" => setup::ensure(setup::Purpose::Test),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}
