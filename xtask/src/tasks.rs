//! The commands themselves.

use crate::setup::{self, Purpose};
use crate::util::{self, Guard, cargo, npm, root, run as exec, target_dir};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Building the desktop app with its UI embedded.
const DESKTOP_FEATURES: &str = "liaison-desktop/custom-protocol";
/// What `cargo xtask test` builds with, once, for every stage: the desktop app with its UI, and
/// the store benchmark's plaintext twin (never in `run` or a release). One feature set for one
/// `cargo test --no-run` means every crate compiles once per run: the later stages run the
/// binaries it left (tests, the keychain test, the benchmarks, the app) instead of asking cargo
/// again with other packages or features, which would compile much of the tree a second time.
const TEST_FEATURES: &str = "liaison-desktop/custom-protocol,liaison-core/bench-plaintext";
const DEMO_PASSPHRASE: &str = "liaison-demo";

fn bin(name: &str) -> PathBuf {
    target_dir().join("debug").join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

fn scratch_dir(label: &str) -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let dir = target_dir().join("xtask-tmp").join(format!("{label}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn build_ui() -> Result<()> {
    exec(npm(&root().join("ui")).args(["run", "build"]))
}

fn build_desktop(extra: &[&str]) -> Result<()> {
    let mut cmd = cargo();
    cmd.args(["build", "-p", "liaison-desktop", "--features", DESKTOP_FEATURES]);
    for p in extra {
        cmd.args(["-p", p]);
    }
    exec(&mut cmd)
}

fn has_display() -> bool {
    !cfg!(target_os = "linux") || std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
}

pub fn run_app(headless: bool, demo: bool) -> Result<()> {
    if !headless && !has_display() {
        bail!(
            "no display found (DISPLAY and WAYLAND_DISPLAY are unset), so the app cannot open a window.\n       Run it under a virtual display and get a screenshot instead:  cargo xtask run --headless"
        );
    }
    setup::ensure(Purpose::Run)?;
    build_ui()?;
    build_desktop(if demo { &["liaison-cli"] } else { &[] })?;
    let mut app = Command::new(bin("liaison-desktop"));
    if demo {
        let dir = demo_profile()?;
        println!("Demo profile: {}\nIts passphrase is: {DEMO_PASSPHRASE}", dir.display());
        app.env("LIAISON_DATA_DIR", dir);
    }
    if !headless {
        return exec(&mut app);
    }
    let (_xvfb, display) = util::start_xvfb()?;
    let child = app.env("DISPLAY", &display).spawn().context("starting the desktop app")?;
    let mut guard = Guard(child);
    std::thread::sleep(Duration::from_secs(8));
    if let Some(status) = guard.0.try_wait()? {
        bail!("the desktop app exited early ({status})");
    }
    let shot = target_dir().join("headless-screenshot.png");
    exec(Command::new("import").args(["-window", "root"]).arg(&shot).env("DISPLAY", &display))?;
    println!("The app ran under Xvfb ({display}); screenshot saved to {}", shot.display());
    Ok(())
}

/// A profile in the target directory with a passphrase vault and generated contacts.
fn demo_profile() -> Result<PathBuf> {
    let dir = target_dir().join("demo-profile");
    if !dir.join("vault.json").exists() {
        let cli = |args: &[&str]| -> Result<()> {
            exec(
                Command::new(bin("liaison"))
                    .args(["--data-dir"])
                    .arg(&dir)
                    .args(args)
                    .env("LIAISON_PASSPHRASE", DEMO_PASSPHRASE),
            )
        };
        cli(&["init", "--passphrase"])?;
        cli(&["demo", "--count", "2000"])?;
    }
    Ok(dir)
}

pub fn server(args: &[String]) -> Result<()> {
    exec(cargo().args(["build", "-p", "liaison-server"]))?;
    let mut cmd = Command::new(bin("liaison-server"));
    if args.is_empty() {
        let data = target_dir().join("server-data");
        cmd.args(["serve", "--data-dir"]).arg(&data);
        println!(
            "Server data in {} (add users with: cargo xtask server user add NAME --role staff --data-dir {})",
            data.display(),
            data.display()
        );
    } else {
        cmd.args(args);
    }
    exec(&mut cmd)
}

pub fn bindings() -> Result<()> {
    if !root().join("ui/dist/index.html").exists() {
        setup::ensure_npm_packages(&root().join("ui"))?;
        build_ui()?;
    }
    exec(
        cargo()
            .args(["test", "-p", "liaison-desktop", "--features", DESKTOP_FEATURES, "--lib", "bindings_are_fresh"])
            .env("UPDATE_BINDINGS", "1"),
    )
}

/// Which benchmarks `cargo xtask bench` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchSet {
    /// The encrypted store (B5, B6) and sync (B8–B11, B16, beside PouchDB).
    All,
    Store,
    Sync,
}

/// Release builds of both benchmarks; their results are merged into `docs/benchmarks.json`
/// (store results at the top level, sync results under `sync`) and `docs/benchmarks.md`, so
/// running one keeps the other's last results.
pub fn bench(full: bool, set: BenchSet) -> Result<()> {
    let store_json = target_dir().join("bench/store.json");
    if set != BenchSet::Sync {
        let mut cmd = cargo();
        cmd.args([
            "run",
            "--release",
            "-p",
            "liaison-core",
            "--features",
            "bench-plaintext",
            "--example",
            "bench",
            "--",
        ]);
        cmd.arg("--out").arg(&store_json);
        if full {
            cmd.arg("--full");
        }
        exec(&mut cmd)?;
        // Mail in from a real Dovecot, written beside the store's results (key `mail`).
        setup::ensure(Purpose::Test)?;
        let mut mail = cargo();
        mail.args(["run", "--release", "-p", "liaison-e2e", "--example", "mail_bench", "--", "--out"]).arg(&store_json);
        exec(&mut mail)?;
    }
    if set != BenchSet::Store {
        setup::ensure_bench()?;
    }
    let mut cmd = cargo();
    cmd.args(["run", "--release", "-p", "liaison-e2e", "--example", "sync_bench", "--"]);
    cmd.arg("--out").arg(root().join("docs/benchmarks.json")).arg("--md").arg(root().join("docs/benchmarks.md"));
    if set != BenchSet::Sync {
        cmd.arg("--core-results").arg(&store_json);
    }
    if set == BenchSet::Store {
        cmd.arg("--merge-only");
    }
    exec(&mut cmd)
}

fn example(name: &str) -> PathBuf {
    target_dir().join("debug/examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The sync benchmark at 2,000 contacts with 2 s of B11, PouchDB and PostgreSQL included, to
/// prove it works (it fails when a device does not end up with exactly the server's rows).
fn sync_bench_smoke() -> Result<()> {
    exec(
        Command::new(example("sync_bench"))
            .current_dir(root())
            .args(["--smoke", "--out"])
            .arg(target_dir().join("bench-smoke-sync.json"))
            .arg("--md")
            .arg(target_dir().join("bench-smoke.md"))
            .arg("--core-results")
            .arg(target_dir().join("bench-smoke.json")),
    )
}

/// Build everything the test stages run, once, with [`TEST_FEATURES`]: the binaries the
/// end-to-end and desktop stages start (`liaison`, `liaison-server`, `liaison-desktop`: `cargo
/// test` builds a package's binaries only for that package's own integration tests, so without
/// this they could be stale), then `cargo test --no-run` for the libraries, examples and test
/// harnesses (reusing what the first step compiled). Returns the test executables cargo reports,
/// by their source (e.g. `tests/keychain.rs`).
fn build_everything() -> Result<Vec<(String, PathBuf)>> {
    exec(cargo().args(["build", "--workspace", "--bins", "--features", TEST_FEATURES]))?;
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--features", TEST_FEATURES, "--no-run"]).stderr(Stdio::piped());
    println!("▶ {}", util::describe(&cmd));
    let mut child = cmd.spawn().context("starting cargo")?;
    let stderr = child.stderr.take().context("cargo's stderr")?;
    let mut executables = Vec::new();
    use std::io::BufRead;
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line?;
        eprintln!("{line}");
        // "  Executable tests/keychain.rs (/…/target/debug/deps/keychain-0123abcd)"
        if let Some(rest) = line.trim().strip_prefix("Executable ")
            && let Some((source, path)) = rest.rsplit_once(" (")
        {
            let source = source.trim_start_matches("unittests ").to_owned();
            executables.push((source, PathBuf::from(path.trim_end_matches(')'))));
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("failed ({status}): building the workspace's tests");
    }
    Ok(executables)
}

pub fn bundle() -> Result<()> {
    setup::ensure(Purpose::Run)?;
    exec(
        Command::new(root().join("ui/node_modules/.bin/tauri"))
            .args(["build", "--bundles", "deb,rpm"])
            .current_dir(root())
            .env("CARGO_TARGET_DIR", target_dir()),
    )
}

/// One named stage of the test run, timed and reported.
struct Stages {
    done: Vec<(String, Duration)>,
}

impl Stages {
    fn stage(&mut self, name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
        println!("\n══ {name}");
        let start = Instant::now();
        f().with_context(|| format!("test stage failed: {name}"))?;
        self.done.push((name.to_string(), start.elapsed()));
        Ok(())
    }
}

pub fn test() -> Result<()> {
    let start = Instant::now();
    let mut s = Stages { done: vec![] };
    s.stage("set-up: system packages, npm packages, tauri-driver", || setup::ensure(Purpose::Test))?;
    s.stage("Formatting (cargo fmt --check)", || exec(cargo().args(["fmt", "--all", "--check"])))?;
    s.stage("UI: type-check and build", build_ui)?;
    s.stage("UI: unit tests (Vitest)", || exec(npm(&root().join("ui")).args(["test"])))?;
    let mut executables = Vec::new();
    s.stage("Rust: build every crate, binary, example and test once", || {
        executables = build_everything()?;
        Ok(())
    })?;
    s.stage("Rust: unit, integration and end-to-end tests (real server binary, real clients)", || {
        exec(
            cargo()
                .args(["test", "--workspace", "--features", TEST_FEATURES])
                .env("LIAISON_BIN_DIR", target_dir().join("debug")),
        )
    })?;
    let keychain = executables
        .iter()
        .find(|(source, path)| source == "tests/keychain.rs" && path.exists())
        .map(|(_, path)| path.clone())
        .context("cargo did not report the keychain test (crates/core/tests/keychain.rs)")?;
    s.stage("Keychain: vault unlock through a real Secret Service (gnome-keyring)", || keychain_test(&keychain))?;
    s.stage("Benchmark smoke run (a tenth of the size; not timed)", || {
        exec(
            Command::new(example("bench"))
                .current_dir(root())
                .args(["--smoke", "--out"])
                .arg(target_dir().join("bench-smoke.json")),
        )?;
        exec(
            Command::new(example("mail_bench"))
                .current_dir(root())
                .args(["--smoke", "--out"])
                .arg(target_dir().join("bench-smoke.json")),
        )
    })?;
    s.stage(
        "Sync benchmark smoke run (2,000 contacts, SQLite and PostgreSQL, PouchDB beside; not timed)",
        sync_bench_smoke,
    )?;
    s.stage("Desktop: the real app driven through WebDriver under Xvfb", desktop_e2e)?;
    println!("\n══ Summary");
    for (name, took) in &s.done {
        println!("  ok  {:>6.1}s  {name}", took.as_secs_f64());
    }
    println!("{} passed, 0 failed (test stages, {:.0}s in all)", s.done.len(), start.elapsed().as_secs_f64());
    Ok(())
}

/// The keychain test binary, run again inside a private D-Bus session with an unlocked
/// gnome-keyring, where it must find a real Secret Service (`LIAISON_EXPECT_KEYCHAIN`).
fn keychain_test(binary: &std::path::Path) -> Result<()> {
    let script = format!(
        "printf liaison-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec '{}'",
        binary.display()
    );
    exec(
        Command::new("dbus-run-session")
            .args(["--", "sh", "-c", &script])
            .current_dir(root().join("crates/core"))
            .env("LIAISON_EXPECT_KEYCHAIN", "1")
            .env("HOME", scratch_dir("keychain-home")?),
    )
}

/// A `liaison-server` on a free loopback port with one staff account, for the desktop test to
/// sign in to. Returns the guard, the URL and the certificate fingerprint.
fn start_server(dir: &std::path::Path) -> Result<(Guard, String, String)> {
    use std::io::BufRead;
    let mut add = Command::new(bin("liaison-server"));
    add.args(["user", "add", "ana", "--role", "staff", "--data-dir"])
        .arg(dir)
        .env("LIAISON_PASSWORD", E2E_PASSWORD)
        .stdout(Stdio::null());
    exec(&mut add)?;
    let mut child = Command::new(bin("liaison-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        // The desk's steps watch a reply go out: the mail worker looks every second.
        .env("LIAISON_MAIL_POLL_SECS", "1")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting liaison-server")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let guard = Guard(child);
    let (mut url, mut fingerprint) = (None, None);
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(u) = line.strip_prefix("Liaison server listening on ") {
            url = Some(u.trim().to_string());
        }
        if let Some(f) = line.strip_prefix("Certificate SHA-256 fingerprint: ") {
            fingerprint = Some(f.trim().to_string());
        }
        if url.is_some() && fingerprint.is_some() {
            break;
        }
    }
    match (url, fingerprint) {
        (Some(u), Some(f)) => Ok((guard, u, f)),
        _ => bail!("liaison-server exited before printing its URL and fingerprint"),
    }
}

const E2E_PASSWORD: &str = "desktop-e2e-password";
/// The app's idle timeout in the desktop test: well above the longest wait between two actions in
/// the other steps (about 30 s, plus up to 10 s that activity reports are spaced), short enough
/// for the last step to watch it lock.
const E2E_IDLE_LOCK_SECS: &str = "60";

/// Only the desktop WebDriver stage of [`test`], for working on the app's screens: the UI, the
/// binaries and the examples it uses are built first.
pub fn desktop_test() -> Result<()> {
    setup::ensure(Purpose::Test)?;
    build_ui()?;
    exec(cargo().args(["build", "--workspace", "--bins", "--examples", "--features", TEST_FEATURES]))?;
    desktop_e2e()
}

fn desktop_e2e() -> Result<()> {
    let driver = setup::tauri_driver()?;
    let server_dir = scratch_dir("desktop-e2e-server")?;
    let (_server, url, fingerprint) = start_server(&server_dir)?;
    let (_xvfb, display) = util::start_xvfb()?;
    let port = util::free_port()?;
    let native_port = util::free_port()?;
    let data_dir = scratch_dir("desktop-e2e")?;
    let log = std::fs::File::create(data_dir.with_extension("tauri-driver.log"))?;
    // The app is started by tauri-driver (through WebKitWebDriver) and inherits its environment,
    // so the fresh profile directory is set here, not on the test runner.
    let child = Command::new(&driver)
        .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
        .env("DISPLAY", &display)
        .env("LIAISON_DATA_DIR", &data_dir)
        .env("LIAISON_IDLE_LOCK_SECS", E2E_IDLE_LOCK_SECS)
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .context("starting tauri-driver")?;
    let _driver = Guard(child);
    util::wait_for_port(port, "tauri-driver", Duration::from_secs(20))?;
    let screenshot = root().join("docs/screenshot.png");
    exec(
        npm(&root().join("ui"))
            .args(["run", "e2e"])
            .env("DISPLAY", &display)
            .env("TAURI_DRIVER_PORT", port.to_string())
            .env("LIAISON_APP_BINARY", bin("liaison-desktop"))
            .env("LIAISON_EXPECT_DATA_DIR", &data_dir)
            .env("LIAISON_E2E_SERVER_URL", &url)
            .env("LIAISON_E2E_FINGERPRINT", &fingerprint)
            .env("LIAISON_E2E_USER", "ana")
            .env("LIAISON_E2E_PASSWORD", E2E_PASSWORD)
            .env("LIAISON_CLI_BINARY", bin("liaison"))
            .env("LIAISON_SERVER_BINARY", bin("liaison-server"))
            .env("LIAISON_E2E_SERVER_DATA", &server_dir)
            .env("LIAISON_MAIL_SERVERS_BINARY", example("mail_servers"))
            .env("LIAISON_E2E_SCRATCH", scratch_dir("desktop-e2e-cli")?)
            .env("LIAISON_E2E_IDLE_LOCK_SECS", E2E_IDLE_LOCK_SECS)
            .env("LIAISON_SCREENSHOT", &screenshot),
    )
}
