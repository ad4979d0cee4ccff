//! Small process helpers: run a command, find the workspace, pick ports and directories.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Where cargo puts build output: `$CARGO_TARGET_DIR`, else (in CI) a cache outside the checkout
/// so later runs reuse it, else `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    if std::env::var_os("CI").is_some() {
        return home().join(".cache/liaison/target");
    }
    root().join("target")
}

pub fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// Tools we install ourselves (tauri-driver) live here, outside the checkout.
pub fn tools_dir() -> PathBuf {
    home().join(".cache/liaison/tools")
}

pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.env("CARGO_TARGET_DIR", target_dir()).current_dir(root());
    cmd
}

pub fn npm(dir: &Path) -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(dir);
    cmd
}

/// Run to completion; fail with the command line when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = describe(cmd);
    println!("▶ {line}");
    let status = cmd.status().with_context(|| format!("could not start: {line}"))?;
    if !status.success() {
        bail!("failed ({status}): {line}");
    }
    Ok(())
}

pub fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

pub fn have(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Kills the child (and waits for it) when dropped, so no test leaves processes behind.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wait until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, what: &str, timeout: std::time::Duration) -> Result<()> {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    bail!("{what} did not start listening on port {port} within {timeout:?}")
}

/// Start Xvfb on a free display number; returns the guard and the DISPLAY value.
pub fn start_xvfb() -> Result<(Guard, String)> {
    for n in 90..140 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() || Path::new(&format!("/tmp/.X{n}-lock")).exists() {
            continue;
        }
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("could not start Xvfb (apt-get install xvfb)")?;
        let guard = Guard(child);
        let socket = format!("/tmp/.X11-unix/X{n}");
        for _ in 0..50 {
            if Path::new(&socket).exists() {
                return Ok((guard, display));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        bail!("Xvfb did not start on {display}");
    }
    bail!("no free X display number between :90 and :139")
}
