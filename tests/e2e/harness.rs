//! Starting servers and clients as separate processes.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const PASSPHRASE: &str = "e2e passphrase 2026";
pub const PASSWORD: &str = "staff-password-1";

pub fn bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("LIAISON_BIN_DIR").map(PathBuf::from).unwrap_or_else(|| {
        // target/debug/deps/e2e-… → target/debug
        let exe = std::env::current_exe().expect("current exe");
        exe.parent().and_then(Path::parent).expect("target dir").to_path_buf()
    });
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (cargo xtask test does; by hand: cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// A running `liaison-server`; killed when dropped.
pub struct Server {
    child: Child,
    pub dir: tempfile::TempDir,
    pub url: String,
    pub fingerprint: String,
    pub port: u16,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Server::start_in(dir, "127.0.0.1:0")
    }

    pub fn start_in(dir: tempfile::TempDir, listen: &str) -> Server {
        // Mail in and out every second (the worker does nothing while no queue has a mailbox).
        Server::start_with(dir, listen, &[("LIAISON_MAIL_POLL_SECS", "1")])
    }

    /// A server with these environment variables (e.g. another mail poll interval).
    pub fn start_with(dir: tempfile::TempDir, listen: &str, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(bin("liaison-server"))
            .args(["serve", "--data-dir"])
            .arg(dir.path())
            .args(["--listen", listen])
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start liaison-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut url, mut fingerprint) = (None, None);
        while url.is_none() || fingerprint.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the server printed its URL and fingerprint within 30 s");
            if let Some(u) = line.strip_prefix("Liaison server listening on ") {
                url = Some(u.trim().to_string());
            }
            if let Some(f) = line.strip_prefix("Certificate SHA-256 fingerprint: ") {
                fingerprint = Some(f.trim().to_string());
            }
        }
        let url = url.unwrap_or_default();
        let port = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port in URL");
        Server { child, dir, url, fingerprint: fingerprint.unwrap_or_default(), port }
    }

    /// `liaison-server user add NAME --role ROLE` with the test password.
    pub fn add_user(&self, name: &str, role: &str) {
        let out = Command::new(bin("liaison-server"))
            .args(["user", "add", name, "--role", role, "--data-dir"])
            .arg(self.dir.path())
            .env("LIAISON_PASSWORD", PASSWORD)
            .output()
            .expect("run user add");
        assert!(out.status.success(), "user add failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `liaison-server erase contact ID`, as an administrator would run it.
    pub fn erase_contact(&self, id: &str) -> String {
        let out = Command::new(bin("liaison-server"))
            .args(["erase", "contact", id, "--data-dir"])
            .arg(self.dir.path())
            .output()
            .expect("run erase");
        assert!(out.status.success(), "erase failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run `liaison-server ARGS --data-dir DIR` as an administrator would; returns stdout.
    pub fn admin(&self, args: &[&str]) -> String {
        self.admin_with(args, &[])
    }

    /// [`Server::admin`] with environment variables set (a mailbox's password).
    pub fn admin_with(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = Command::new(bin("liaison-server"))
            .args(args)
            .envs(env.iter().copied())
            .arg("--data-dir")
            .arg(self.dir.path())
            .output()
            .expect("run liaison-server");
        assert!(out.status.success(), "liaison-server {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stop the server, keeping its data directory.
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `liaison` client with its own data directory and temp directory.
pub struct Client {
    pub dir: tempfile::TempDir,
    pub tmp: tempfile::TempDir,
}

impl Client {
    pub fn new() -> Client {
        let c = Client { dir: tempfile::tempdir().expect("tempdir"), tmp: tempfile::tempdir().expect("tempdir") };
        c.ok(&["init", "--passphrase"]);
        c
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin("liaison"));
        cmd.arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .env("LIAISON_PASSPHRASE", PASSPHRASE)
            .env("LIAISON_PASSWORD", PASSWORD)
            .env("TMPDIR", self.tmp.path())
            .env_remove("LIAISON_DATA_DIR")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run liaison")
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "liaison {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Run and require failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "liaison {args:?} should have failed but printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).trim().to_string()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).expect("valid JSON output")
    }

    pub fn login(&self, server: &Server, user: &str) {
        self.ok(&["login", &server.url, "--user", user, "--fingerprint", &server.fingerprint]);
    }

    pub fn contact(&self, id: &str) -> Value {
        self.json(&["contact", "show", id])
    }

    pub fn pending(&self) -> u64 {
        self.json(&["status"])["sync"]["pending"].as_u64().expect("pending count")
    }
}

/// A server with `ana` (staff) and `ben` (volunteer), each signed in on a client of their own.
pub fn staff_and_volunteer() -> (Server, Client, Client) {
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "volunteer");
    let (staff, volunteer) = (Client::new(), Client::new());
    staff.login(&server, "ana");
    volunteer.login(&server, "ben");
    (server, staff, volunteer)
}
