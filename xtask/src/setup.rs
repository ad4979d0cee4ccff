//! Install what is missing, and say what and why. Debian/Ubuntu: apt (through sudo when not
//! root). Elsewhere: print what to install by hand.

use crate::util::{self, have, npm, run, tools_dir};
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Build and open the desktop app.
    Run,
    /// Everything `cargo xtask test` needs.
    Test,
}

/// (package, why) pairs.
const BUILD: &[(&str, &str)] = &[
    ("build-essential", "C compiler for SQLCipher and other bundled C code"),
    ("pkg-config", "finds system libraries at build time"),
    ("libssl-dev", "OpenSSL for SQLCipher's encryption"),
    ("libwebkit2gtk-4.1-dev", "the web view of the desktop app (Tauri on Linux)"),
    ("libxdo-dev", "keyboard and window helpers used by Tauri"),
    ("libayatana-appindicator3-dev", "tray icon support in Tauri"),
    ("librsvg2-dev", "SVG icons in Tauri"),
    ("file", "used by the Tauri bundler"),
    ("curl", "used by the Tauri bundler"),
    ("wget", "used by the Tauri bundler"),
];

const HEADLESS: &[(&str, &str)] = &[
    ("xvfb", "a virtual display, to run the app without a screen"),
    ("xauth", "display authorisation for Xvfb"),
    ("imagemagick", "screenshots of the virtual display (`import`)"),
];

const TEST: &[(&str, &str)] = &[
    ("webkit2gtk-driver", "WebKitWebDriver, to drive the desktop app in end-to-end tests"),
    ("gnome-keyring", "a Secret Service keychain, to test keychain unlock"),
    ("dbus-daemon", "dbus-run-session, a private session bus for the keychain test"),
    ("postgresql", "a throwaway PostgreSQL server for the storage contract tests"),
    ("dovecot-imapd", "a real IMAP server (Dovecot) for the mail-in and mail-out tests"),
    ("python3-aiosmtpd", "a real SMTP server (aiosmtpd) for the mail-out tests"),
];

fn missing(packages: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    packages
        .iter()
        .filter(|(name, _)| {
            let out = Command::new("dpkg-query").args(["-W", "-f=${Status}", name]).output();
            !matches!(out, Ok(o) if String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .copied()
        .collect()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn apt_install(packages: &[(&str, &str)]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    println!("Installing system packages that are missing:");
    for (name, why) in packages {
        println!("  {name:<30} {why}");
    }
    let sudo = !is_root();
    let apt = |args: &[&str]| -> Command {
        let mut cmd = if sudo { Command::new("sudo") } else { Command::new("apt-get") };
        if sudo {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(&mut apt(&["update", "-qq"]))?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(packages.iter().map(|(n, _)| *n));
    run(&mut install).context("installing system packages failed; install the packages above by hand and run again")
}

fn node_major() -> Option<u32> {
    let out = Command::new("node").arg("--version").output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().trim_start_matches('v').split('.').next()?.parse().ok()
}

fn ensure_node() -> Result<()> {
    if node_major().is_none() && have("apt-get") {
        apt_install(&[("nodejs", "runs the UI build (Vite) and UI tests"), ("npm", "installs the UI's packages")])?;
    }
    match node_major() {
        Some(v) if v >= 20 => Ok(()),
        Some(v) => bail!(
            "Node.js {v} is too old: Liaison's UI build needs Node.js 20 or newer (nodejs.org or NodeSource packages)"
        ),
        None => bail!("Node.js is not installed: install Node.js 20 or newer and npm, then run again"),
    }
}

/// `npm ci` when node_modules is missing or older than package-lock.json.
pub fn ensure_npm_packages(ui: &Path) -> Result<()> {
    let lock = ui.join("package-lock.json");
    let stamp = ui.join("node_modules/.package-lock.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = matches!((modified(&lock), modified(&stamp)), (Some(l), Some(s)) if s >= l);
    if !fresh {
        println!("Installing the UI's npm packages (ui/package-lock.json)…");
        run(npm(ui).args(["ci", "--no-audit", "--no-fund"]).env("npm_config_yes", "true"))?;
    }
    Ok(())
}

/// The PouchDB side of the sync benchmarks (`bench/pouchdb`): `npm ci` when node_modules is
/// missing or older than package-lock.json. `--ignore-scripts`: pouchdb-server's optional SQLite
/// adapter would compile sqlite3 from source, and the LevelDB binding it does use ships prebuilt.
pub fn ensure_bench_npm_packages() -> Result<()> {
    let dir = util::root().join("bench/pouchdb");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = matches!((modified(&dir.join("package-lock.json")), modified(&dir.join("node_modules/.package-lock.json"))), (Some(l), Some(s)) if s >= l);
    if !fresh {
        println!(
            "Installing the PouchDB benchmark's npm packages (bench/pouchdb/package-lock.json: pouchdb-server, pouchdb-node)…"
        );
        run(npm(&dir).args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"]).env("npm_config_yes", "true"))?;
    }
    Ok(())
}

/// What `cargo xtask bench` needs: the build tools, PostgreSQL (B11 runs on it too), Node.js and
/// the PouchDB packages.
pub fn ensure_bench() -> Result<()> {
    if cfg!(target_os = "linux") && have("apt-get") && have("dpkg-query") {
        let mut wanted: Vec<(&str, &str)> = BUILD.to_vec();
        wanted.push(("postgresql", "a throwaway PostgreSQL server for the B11 pull benchmark"));
        apt_install(&missing(&wanted))?;
    }
    ensure_node()?;
    ensure_bench_npm_packages()
}

/// tauri-driver, the WebDriver bridge for Tauri apps, installed once into a cache.
pub fn tauri_driver() -> Result<std::path::PathBuf> {
    let bin = tools_dir().join("bin/tauri-driver");
    if !bin.exists() {
        println!("Installing tauri-driver (WebDriver bridge for the desktop tests) into {}…", tools_dir().display());
        run(Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["install", "tauri-driver", "--locked", "--version", "2.1.0", "--root"])
            .arg(tools_dir())
            .env_remove("CARGO_TARGET_DIR"))?;
    }
    Ok(bin)
}

pub fn ensure(purpose: Purpose) -> Result<()> {
    if cfg!(target_os = "linux") {
        if have("apt-get") && have("dpkg-query") {
            let mut wanted: Vec<(&str, &str)> = BUILD.to_vec();
            wanted.extend_from_slice(HEADLESS);
            if purpose == Purpose::Test {
                wanted.extend_from_slice(TEST);
            }
            apt_install(&missing(&wanted))?;
        } else {
            println!("Not a Debian/Ubuntu system: make sure the equivalents of these are installed:");
            for (name, why) in BUILD.iter().chain(HEADLESS).chain(TEST) {
                println!("  {name:<30} {why}");
            }
        }
    }
    ensure_node()?;
    ensure_npm_packages(&util::root().join("ui"))?;
    if purpose == Purpose::Test {
        ensure_bench_npm_packages()?;
        tauri_driver()?;
    }
    Ok(())
}
