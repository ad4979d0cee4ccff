//! A real mail system on loopback for tests: Dovecot (IMAP with STARTTLS, and IMAPS) serving one
//! Maildir per mailbox, and aiosmtpd (SMTP with STARTTLS, and SMTPS) delivering every message it
//! accepts into one of those Maildirs. A test puts a reader's mail into a queue's mailbox by IMAP
//! `APPEND` and reads back, by IMAP as the reader's client would, what the server sent by SMTP.
//!
//! Everything lives under one short directory `/tmp/lz-mail-XXXXXX` (Dovecot's unix sockets need
//! paths under ~100 characters, so not a deep test directory). One self-signed certificate for
//! 127.0.0.1 serves all four ports; a client pins it as its only trust root.
//!
//! As root (as in CI), both servers run as the packaged `dovecot` user, which owns the directory:
//! Dovecot through `runuser` (it daemonises), aiosmtpd with that uid and gid set on the process,
//! so the files it delivers are Dovecot's to read and move from `new/` to `cur/`. Not as root, both
//! run as the current user (best effort).
//!
//! The SMTP side is one Python process running two `aiosmtpd` controllers (STARTTLS required on
//! one port, implicit TLS on the other) that exits when its stdin closes, i.e. on
//! [`MailServers::stop_smtp`], on drop, or when the test process dies however it dies. The test
//! side's IMAP client is Python's `imaplib` over TLS trusting only the certificate file.
//!
//! Stopping: [`Drop`] stops both servers and removes the directory. For a test process that
//! panics without unwinding, aborts or is killed, a detached watchdog shell started with the
//! servers waits for this process to vanish, then kills Dovecot's process group (and runs
//! `doveadm stop`, in case), kills the SMTP process (pid file) and removes the directory. It
//! ignores Ctrl-C and runs in its own process group so an interrupted run still cleans up.
//!
//! Missing programs are an error, never a skip: install `dovecot-imapd` and `python3-aiosmtpd`
//! (`cargo xtask test` installs them).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to accept connections before `start` gives up.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A mailbox Dovecot serves: its login is the address.
#[derive(Clone, Debug)]
pub struct Mailbox {
    pub address: String,
    pub password: String,
}

/// The running servers; dropping it stops them and removes their directory.
pub struct MailServers {
    root: PathBuf,
    imap_port: u16,
    imaps_port: u16,
    smtp_port: u16,
    smtps_port: u16,
    cert_pem: String,
    cert_path: PathBuf,
    mailboxes: Vec<Mailbox>,
    deliver_to: String,
    /// `Some((uid, gid))` of `dovecot` when running as root.
    run_as: Option<(u32, u32)>,
    python: &'static str,
    smtp: Option<Smtp>,
    /// Declared last: removes the directory after `Drop::drop` has stopped the servers.
    _dir: tempfile::TempDir,
}

/// The SMTP process and the pipe whose closing stops it.
struct Smtp {
    child: Child,
    stdin: Option<ChildStdin>,
}

/// The SMTP servers: STARTTLS (required before MAIL) on one port, implicit TLS on the other, both
/// delivering into one Maildir. Ready once the pid file exists; exits when stdin closes.
const SMTP_SCRIPT: &str = r#"
import os, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
maildir, smtp_port, smtps_port, cert, key, pidfile = sys.argv[1:7]
def tls():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx
handler = Mailbox(maildir)
servers = [
    Controller(handler, hostname='127.0.0.1', port=int(smtp_port), server_hostname='localhost',
               tls_context=tls(), require_starttls=True),
    Controller(handler, hostname='127.0.0.1', port=int(smtps_port), server_hostname='localhost',
               ssl_context=tls()),
]
for server in servers:
    server.start()
with open(pidfile + '.new', 'w') as f:
    f.write('%d\n' % os.getpid())
os.rename(pidfile + '.new', pidfile)
sys.stdin.buffer.read()
os._exit(0)
"#;

/// The test side's IMAP client over implicit TLS, trusting only `cafile`. Actions: `append`
/// (stdin is the message; prints `UIDVALIDITY UID`), `messages` (prints each message of the
/// INBOX in UID order as `LENGTH\n` then the bytes), `seen` (flags every message `\Seen`).
const IMAP_SCRIPT: &str = r#"
import imaplib, re, ssl, sys
cafile, port, user, password, action = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)
m = imaplib.IMAP4_SSL('127.0.0.1', int(port), ssl_context=ctx, timeout=10)
m.login(user, password)
out = sys.stdout.buffer
def uids():
    typ, data = m.uid('SEARCH', None, 'ALL')
    if typ != 'OK':
        sys.exit('UID SEARCH answered %s %r' % (typ, data))
    return sorted(int(u) for u in data[0].split())
if action == 'append':
    typ, data = m.append('INBOX', None, None, sys.stdin.buffer.read())
    found = re.search(rb'APPENDUID (\d+) (\d+)', data[0] or b'') if typ == 'OK' else None
    if not found:
        sys.exit('APPEND answered %s %r, not OK [APPENDUID ...]' % (typ, data))
    out.write(found.group(1) + b' ' + found.group(2) + b'\n')
elif action == 'messages':
    typ, data = m.select('INBOX', readonly=True)
    if typ != 'OK':
        sys.exit('SELECT answered %s %r' % (typ, data))
    for uid in uids():
        typ, data = m.uid('FETCH', str(uid), '(BODY.PEEK[])')
        raw = [part[1] for part in data if isinstance(part, tuple)]
        if typ != 'OK' or len(raw) != 1:
            sys.exit('UID FETCH %d answered %s %r' % (uid, typ, data))
        out.write(b'%d\n' % len(raw[0]) + raw[0])
elif action == 'seen':
    typ, data = m.select('INBOX')
    if typ != 'OK':
        sys.exit('SELECT answered %s %r' % (typ, data))
    if uids():
        typ, data = m.uid('STORE', '1:*', '+FLAGS.SILENT', '(\\Seen)')
        if typ != 'OK':
            sys.exit('UID STORE answered %s %r' % (typ, data))
m.logout()
"#;

/// The Python that has aiosmtpd: Debian's (`/usr/bin/python3`, where the package installs it)
/// before whatever `python3` is first on the PATH (a pyenv, a venv).
fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|python| Command::new(python).args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success()))
}

fn installed(program: &str) -> bool {
    Command::new("sh").args(["-c", "command -v \"$1\"", "sh", program]).output().is_ok_and(|o| o.status.success())
}

/// The trimmed stdout of `id ARGS` (`id -u dovecot`, `id -un`, ...).
fn id(args: &[&str]) -> Result<String, String> {
    let out = Command::new("id").args(args).output().map_err(|e| format!("cannot run id: {e}"))?;
    if !out.status.success() {
        return Err(format!("id {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn number(text: &str, what: &str) -> Result<u32, String> {
    text.parse().map_err(|_| format!("{what} is not a number: {text:?}"))
}

/// `n` distinct loopback ports nothing listens on right now (all bound at once, then released).
fn free_ports<const N: usize>() -> Result<[u16; N], String> {
    let listeners = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr().map_err(|e| e.to_string())?.port();
    }
    Ok(ports)
}

fn accepts(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok()
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Wait until 127.0.0.1:`port` accepts TCP connections.
fn wait_for_port(port: u16, what: &str, log: &Path) -> Result<(), String> {
    let until = Instant::now() + START_TIMEOUT;
    while !accepts(port) {
        if Instant::now() >= until {
            return Err(format!(
                "{what} did not accept connections on 127.0.0.1:{port} within {} s; its log:\n{}",
                START_TIMEOUT.as_secs(),
                log_of(log)
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(())
}

impl MailServers {
    /// Start Dovecot (IMAP with STARTTLS on [`imap_port`](Self::imap_port), implicit TLS on
    /// [`imaps_port`](Self::imaps_port)) with one Maildir per `(address, password)` mailbox, and
    /// aiosmtpd on [`smtp_port`](Self::smtp_port) (STARTTLS offered, and required before `MAIL`)
    /// and [`smtps_port`](Self::smtps_port) (implicit TLS) delivering every accepted message,
    /// whatever its recipients, into the Maildir of `deliver_to` (one of `mailboxes`). One
    /// self-signed certificate for 127.0.0.1 for all. Returns once all four ports accept
    /// connections.
    pub fn start(mailboxes: &[(&str, &str)], deliver_to: &str) -> Result<MailServers, String> {
        for program in ["dovecot", "doveadm"] {
            if !installed(program) {
                return Err(format!(
                    "{program} is not installed: apt-get install dovecot-imapd (`cargo xtask test` installs it). \
                     The mail tests never skip."
                ));
            }
        }
        let python = python().ok_or(
            "aiosmtpd is not installed (neither /usr/bin/python3 nor python3 imports it): apt-get install \
             python3-aiosmtpd (`cargo xtask test` installs it). The mail tests never skip.",
        )?;
        if !mailboxes.iter().any(|(address, _)| *address == deliver_to) {
            return Err(format!("deliver_to {deliver_to} must be one of the mailboxes"));
        }
        if let Some((address, _)) = mailboxes.iter().find(|(a, _)| a.is_empty() || a.contains(['/', ':', '\n'])) {
            return Err(format!("{address:?} cannot be a mailbox address here (it names a file)"));
        }
        let as_root = id(&["-u"])? == "0";
        if as_root && !installed("runuser") {
            return Err("runuser is not installed (util-linux): it starts Dovecot as the dovecot user".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("lz-mail-")
            .tempdir_in("/tmp")
            .map_err(|e| format!("cannot create a temp dir in /tmp: {e}"))?;
        let root = dir.path().to_path_buf();
        let (user, group, uid) = if as_root {
            let uid = id(&["-u", "dovecot"]).map_err(|e| {
                format!("there is no dovecot user ({e}): apt-get install dovecot-imapd (`cargo xtask test` does)")
            })?;
            ("dovecot".to_owned(), "dovecot".to_owned(), uid)
        } else {
            (id(&["-un"])?, id(&["-gn"])?, id(&["-u"])?)
        };
        let run_as = if as_root {
            Some((number(&uid, "dovecot's uid")?, number(&id(&["-g", "dovecot"])?, "dovecot's gid")?))
        } else {
            None
        };

        let write = |name: &str, content: &str| {
            std::fs::write(root.join(name), content)
                .map_err(|e| format!("cannot write {name} in {}: {e}", root.display()))
        };
        let (cert_pem, key_pem) = crate::tls::generate_self_signed(vec!["127.0.0.1".into()])
            .map_err(|e| format!("cannot make the mail servers' certificate: {e}"))?;
        write("cert.pem", &cert_pem)?;
        write("key.pem", &key_pem)?;
        let mut passwd = String::new();
        for (address, password) in mailboxes {
            passwd.push_str(&format!("{address}:{{PLAIN}}{password}\n"));
            // aiosmtpd's Maildir handler fails every delivery (500 FileNotFoundError) without these.
            for sub in ["cur", "new", "tmp"] {
                let path = root.join("mail").join(address).join(sub);
                std::fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            }
        }
        write("passwd", &passwd)?;
        for sub in ["run", "lib", "home"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| format!("cannot create {sub}: {e}"))?;
        }
        if as_root {
            run(Command::new("chown").args(["-R", "dovecot:dovecot"]).arg(&root), "chown -R dovecot:dovecot")?;
        }

        let conf = root.join("dovecot.conf");
        let doveadm = |cmd: &mut Command| {
            if as_root {
                cmd.args(["runuser", "-u", "dovecot", "--"]);
            }
            cmd.arg("doveadm").arg("-c").arg(&conf);
        };

        // The watchdog: once this process is gone, stop both servers and remove the directory.
        let mut watchdog = Command::new("sh");
        watchdog
            .arg("-c")
            .arg(
                r#"trap '' INT TERM HUP; pid=$1; root=$2; shift 2
                   while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
                   master=$(cat "$root/run/master.pid" 2>/dev/null)
                   [ -n "$master" ] && kill -KILL -- "-$master" 2>/dev/null
                   "$@" stop >/dev/null 2>&1
                   [ -f "$root/smtp.pid" ] && kill "$(cat "$root/smtp.pid")" 2>/dev/null
                   rm -rf "$root""#,
            )
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(&root);
        doveadm(&mut watchdog);
        watchdog.process_group(0).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        watchdog.spawn().map_err(|e| format!("cannot start the mail servers' cleanup watchdog: {e}"))?;

        let mut servers = MailServers {
            root: root.clone(),
            imap_port: 0,
            imaps_port: 0,
            smtp_port: 0,
            smtps_port: 0,
            cert_pem,
            cert_path: root.join("cert.pem"),
            mailboxes: mailboxes
                .iter()
                .map(|(address, password)| Mailbox { address: (*address).to_owned(), password: (*password).to_owned() })
                .collect(),
            deliver_to: deliver_to.to_owned(),
            run_as,
            python,
            smtp: None,
            _dir: dir,
        };
        // From here on, dropping `servers` (on an error too) stops whatever runs.
        let log = root.join("dovecot.log");
        let mut failures = Vec::new();
        // A port picked free can be taken before Dovecot binds it: try again with others.
        for _ in 0..3 {
            let [imap_port, imaps_port] = free_ports()?;
            write("dovecot.conf", &dovecot_conf(&root, &user, &group, &uid, imap_port, imaps_port))?;
            let mut dovecot = if as_root { Command::new("runuser") } else { Command::new("dovecot") };
            if as_root {
                dovecot.args(["-u", "dovecot", "--", "dovecot"]);
            }
            // It daemonises, and the daemon would keep a pipe open: wait for the status only
            // (its errors go to its log).
            let status = dovecot
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("cannot run dovecot: {e}"))?;
            if status.success() {
                wait_for_port(imap_port, "Dovecot (IMAP)", &log)?;
                wait_for_port(imaps_port, "Dovecot (IMAPS)", &log)?;
                (servers.imap_port, servers.imaps_port) = (imap_port, imaps_port);
                break;
            }
            failures.push(format!("dovecot did not start ({status}) with ports {imap_port} and {imaps_port}"));
        }
        if servers.imap_port == 0 {
            return Err(format!("{}; its log:\n{}", failures.join("; "), log_of(&log)));
        }

        let mut failures = Vec::new();
        for _ in 0..3 {
            [servers.smtp_port, servers.smtps_port] = free_ports()?;
            match servers.start_smtp() {
                Ok(()) => return Ok(servers),
                Err(e) => failures.push(e),
            }
        }
        Err(failures.join("\n"))
    }

    /// IMAP, STARTTLS offered.
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// IMAP over implicit TLS.
    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }

    /// SMTP, STARTTLS offered and required before `MAIL`.
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port
    }

    /// SMTP over implicit TLS.
    pub fn smtps_port(&self) -> u16 {
        self.smtps_port
    }

    /// PEM of the certificate both servers present (a client pins it as its only trust root).
    pub fn ca_cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// That certificate as a file (readable by anyone).
    pub fn ca_cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// Put `messages` straight into the INBOX of `address` as Maildir files (written in `tmp/`,
    /// then moved to `new/`, as a delivery agent does), much faster than IMAP `APPEND`: for
    /// loading thousands of messages (the ingest benchmark). Dovecot sees them at its next look.
    pub fn deliver_directly(
        &self,
        address: &str,
        messages: impl IntoIterator<Item = Vec<u8>>,
    ) -> Result<usize, String> {
        let maildir = self.root.join("mail").join(address);
        if !maildir.join("new").is_dir() {
            return Err(format!("{address} is not one of the mailboxes Dovecot serves"));
        }
        let mut n = 0;
        for raw in messages {
            let name = format!("{}.M{n}P{}.liaison-bench", 1_800_000_000 + n, std::process::id());
            let tmp = maildir.join("tmp").join(&name);
            std::fs::write(&tmp, &raw).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
            std::fs::rename(&tmp, maildir.join("new").join(&name))
                .map_err(|e| format!("cannot deliver {name}: {e}"))?;
            n += 1;
        }
        if self.run_as.is_some() {
            let status = Command::new("chown")
                .args(["-R", "dovecot:dovecot"])
                .arg(&maildir)
                .status()
                .map_err(|e| format!("cannot run chown: {e}"))?;
            if !status.success() {
                return Err(format!("chown -R dovecot:dovecot {} failed", maildir.display()));
            }
        }
        Ok(n)
    }

    /// The mailboxes Dovecot serves, as given to [`start`](Self::start).
    pub fn mailboxes(&self) -> &[Mailbox] {
        &self.mailboxes
    }

    /// Start the SMTP server again, on the same ports (after [`stop_smtp`](Self::stop_smtp));
    /// nothing if it runs. Returns once both ports accept connections.
    pub fn start_smtp(&mut self) -> Result<(), String> {
        if self.smtp.is_some() {
            return Ok(());
        }
        let log = self.root.join("smtp.log");
        let pidfile = self.root.join("smtp.pid");
        let log_file = std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let mut cmd = Command::new(self.python);
        cmd.arg("-c")
            .arg(SMTP_SCRIPT)
            .arg(self.root.join("mail").join(&self.deliver_to))
            .arg(self.smtp_port.to_string())
            .arg(self.smtps_port.to_string())
            .arg(self.root.join("cert.pem"))
            .arg(self.root.join("key.pem"))
            .arg(&pidfile)
            .current_dir(&self.root)
            .stdin(Stdio::piped())
            .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
            .stderr(log_file);
        if let Some((uid, gid)) = self.run_as {
            // As dovecot, so that Dovecot can read and move what it delivers; HOME its own.
            cmd.uid(uid).gid(gid).env("HOME", &self.root);
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot start aiosmtpd ({}): {e}", self.python))?;
        let stdin = child.stdin.take();
        self.smtp = Some(Smtp { child, stdin });
        let until = Instant::now() + START_TIMEOUT;
        let failed = loop {
            if pidfile.exists() && accepts(self.smtp_port) && accepts(self.smtps_port) {
                return Ok(());
            }
            let Some(smtp) = self.smtp.as_mut() else { break "it went away".to_owned() };
            match smtp.child.try_wait() {
                Ok(Some(status)) => break format!("it exited ({status})"),
                Err(e) => break format!("cannot wait for it: {e}"),
                Ok(None) if Instant::now() >= until => break format!("not ready within {} s", START_TIMEOUT.as_secs()),
                Ok(None) => std::thread::sleep(Duration::from_millis(25)),
            }
        };
        self.stop_smtp()?;
        Err(format!(
            "aiosmtpd did not listen on 127.0.0.1:{} (STARTTLS) and 127.0.0.1:{} (SMTPS): {failed}; its log:\n{}",
            self.smtp_port,
            self.smtps_port,
            log_of(&log)
        ))
    }

    /// Stop only the SMTP server (to test sends that fail and are retried); both its ports
    /// refuse connections when this returns. Nothing if it is not running.
    pub fn stop_smtp(&mut self) -> Result<(), String> {
        let Some(mut smtp) = self.smtp.take() else { return Ok(()) };
        // Closing its stdin makes it exit; kill it if it does not within 2 s.
        drop(smtp.stdin.take());
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            match smtp.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = smtp.child.kill();
                    smtp.child.wait().map_err(|e| format!("cannot wait for aiosmtpd to stop: {e}"))?;
                    break;
                }
            }
        }
        let _ = std::fs::remove_file(self.root.join("smtp.pid"));
        Ok(())
    }

    fn password(&self, address: &str) -> Result<&str, String> {
        self.mailboxes
            .iter()
            .find(|m| m.address == address)
            .map(|m| m.password.as_str())
            .ok_or_else(|| format!("{address} is not one of the mailboxes"))
    }

    /// Run [`IMAP_SCRIPT`]'s `action` logged in as `address` with `input` on stdin; its stdout.
    fn imap(&self, address: &str, action: &str, input: &[u8]) -> Result<Vec<u8>, String> {
        let mut child = Command::new(self.python)
            .arg("-c")
            .arg(IMAP_SCRIPT)
            .arg(&self.cert_path)
            .arg(self.imaps_port.to_string())
            .arg(address)
            .arg(self.password(address)?)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {} for the IMAP client: {e}", self.python))?;
        let written = child.stdin.take().map(|mut stdin| stdin.write_all(input));
        let out = child.wait_with_output().map_err(|e| format!("cannot wait for the IMAP client: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "IMAP {action} as {address} failed ({}): {}\nDovecot's log:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                log_of(&self.root.join("dovecot.log"))
            ));
        }
        if let Some(Err(e)) = written {
            return Err(format!("cannot pass the message to the IMAP client: {e}"));
        }
        Ok(out.stdout)
    }

    /// IMAP `APPEND` `raw` to the INBOX of `address` (over TLS); returns (UIDVALIDITY, UID) from
    /// the server's `APPENDUID`.
    pub fn append(&self, address: &str, raw: &[u8]) -> Result<(u32, u32), String> {
        let out = self.imap(address, "append", raw)?;
        let text = String::from_utf8_lossy(&out);
        let mut parts = text.split_whitespace().map(str::parse::<u32>);
        match (parts.next(), parts.next()) {
            (Some(Ok(validity)), Some(Ok(uid))) => Ok((validity, uid)),
            _ => Err(format!("the IMAP client printed no UIDVALIDITY and UID: {text:?}")),
        }
    }

    /// Every message now in the INBOX of `address`, in UID order, as raw bytes, read over IMAP
    /// (`BODY.PEEK[]`, so nothing becomes `\Seen`) as a reader's client would.
    pub fn messages(&self, address: &str) -> Result<Vec<Vec<u8>>, String> {
        let out = self.imap(address, "messages", b"")?;
        let mut rest = out.as_slice();
        let mut messages = Vec::new();
        while !rest.is_empty() {
            let newline = rest.iter().position(|b| *b == b'\n').ok_or("the IMAP client's output is cut short")?;
            let len: usize = std::str::from_utf8(&rest[..newline])
                .ok()
                .and_then(|l| l.parse().ok())
                .ok_or("the IMAP client's output has no message length")?;
            let body = rest.get(newline + 1..newline + 1 + len).ok_or("the IMAP client's output is cut short")?;
            messages.push(body.to_vec());
            rest = &rest[newline + 1 + len..];
        }
        Ok(messages)
    }

    /// Wait until the INBOX of `address` holds at least `n` messages or `timeout` passes;
    /// returns them (all of them, maybe more than `n`).
    pub fn wait_for_messages(&self, address: &str, n: usize, timeout: Duration) -> Result<Vec<Vec<u8>>, String> {
        let until = Instant::now() + timeout;
        loop {
            let found = self.messages(address)?;
            if found.len() >= n {
                return Ok(found);
            }
            if Instant::now() >= until {
                return Err(format!(
                    "the INBOX of {address} holds {} messages, not {n}, after {:?}; aiosmtpd's log:\n{}",
                    found.len(),
                    timeout,
                    log_of(&self.root.join("smtp.log"))
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Mark every message in the INBOX of `address` as `\Seen` (as another mail client reading
    /// them would).
    pub fn mark_all_seen(&self, address: &str) -> Result<(), String> {
        self.imap(address, "seen", b"").map(|_| ())
    }
}

/// The whole Dovecot configuration: every path under `root`, users from `root/passwd`, one
/// Maildir per user, IMAP with STARTTLS on `imap_port` and implicit TLS on `imaps_port`.
fn dovecot_conf(root: &Path, user: &str, group: &str, uid: &str, imap_port: u16, imaps_port: u16) -> String {
    let r = root.display();
    format!(
        "protocols = imap
listen = 127.0.0.1
base_dir = {r}/run/
state_dir = {r}/lib/
log_path = {r}/dovecot.log
ssl = yes
ssl_cert = <{r}/cert.pem
ssl_key = <{r}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
# Else: \"Mail access for users with UID ... not permitted\".
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={r}/home/%u
}}
mail_location = maildir:{r}/mail/%u
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
"
    )
}

impl Drop for MailServers {
    /// Stop aiosmtpd, then kill Dovecot's whole process group (master, log, auth, imap, ...):
    /// `doveadm stop` takes 2-3 s (the master waits for its log process) and longer while a
    /// client stays connected; the directory goes next anyway. `doveadm stop` only if the
    /// master's pid is unknown.
    fn drop(&mut self) {
        let _ = self.stop_smtp();
        let master = std::fs::read_to_string(self.root.join("run/master.pid"))
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .filter(|pid| *pid > 1);
        let killed = master.is_some_and(|pid| {
            Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if !killed {
            let mut stop = if self.run_as.is_some() { Command::new("runuser") } else { Command::new("doveadm") };
            if self.run_as.is_some() {
                stop.args(["-u", "dovecot", "--", "doveadm"]);
            }
            let _ = stop
                .arg("-c")
                .arg(self.root.join("dovecot.conf"))
                .arg("stop")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
