//! A real mail system on loopback for tests: Dovecot (IMAP with STARTTLS, and IMAPS) serving one
//! Maildir per mailbox, and aiosmtpd (SMTP with STARTTLS) delivering every message it accepts into
//! one of those Maildirs, so a test puts a reader's mail into a queue's mailbox by IMAP `APPEND`
//! and reads back, by IMAP as the reader would, what the server sent by SMTP.
//!
//! Everything lives under one short directory in `/tmp` (Dovecot's unix sockets need short
//! paths). As root both servers run as the packaged `dovecot` user. The test side's IMAP client
//! is Python's `imaplib` over TLS trusting only this certificate. A detached watchdog stops both
//! servers and removes the directory when the test process exits, however it exits.
//!
//! Missing programs are an error, never a skip: install `dovecot-imapd` and `python3-aiosmtpd`
//! (`cargo xtask test` does).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::postgres::free_port;

/// The running servers; dropping it stops them.
pub struct MailServers {
    root: PathBuf,
    _dir: tempfile::TempDir,
    imap_port: u16,
    imaps_port: u16,
    smtp_port: u16,
    cert_pem: String,
    smtp: Option<Child>,
    deliver_to: String,
    passwords: Vec<(String, String)>,
    as_dovecot: bool,
    python: &'static str,
}

/// The Python that has aiosmtpd: Debian's (`/usr/bin/python3`, where the package installs it)
/// before whatever `python3` is first on the PATH (a pyenv, a venv).
fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|python| Command::new(python).args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success()))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn wait_for_port(port: u16, what: &str, log: &Path) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{what} did not listen on 127.0.0.1:{port} within 10 s; its log: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    ))
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

impl MailServers {
    /// Start Dovecot with these `(address, password)` mailboxes and aiosmtpd delivering every
    /// message into the mailbox of `deliver_to` (one of them).
    pub fn start(mailboxes: &[(&str, &str)], deliver_to: &str) -> Result<MailServers, String> {
        for program in ["dovecot", "doveadm"] {
            if Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true)
            {
                return Err(format!(
                    "{program} is not installed: apt-get install dovecot-imapd (`cargo xtask test` installs it)"
                ));
            }
        }
        let Some(python) = python() else {
            return Err(
                "aiosmtpd is not installed: apt-get install python3-aiosmtpd (`cargo xtask test` installs it)".into()
            );
        };
        if !mailboxes.iter().any(|(a, _)| *a == deliver_to) {
            return Err(format!("{deliver_to} must be one of the mailboxes"));
        }
        let dir = tempfile::Builder::new().prefix("lz-mail-").tempdir_in("/tmp").map_err(|e| e.to_string())?;
        let root = dir.path().to_path_buf();
        let as_dovecot = is_root();
        let (cert_pem, key_pem) =
            crate::tls::generate_self_signed(vec!["127.0.0.1".into()]).map_err(|e| e.to_string())?;
        std::fs::write(root.join("cert.pem"), &cert_pem).map_err(|e| e.to_string())?;
        std::fs::write(root.join("key.pem"), &key_pem).map_err(|e| e.to_string())?;
        let mut passwd = String::new();
        for (address, password) in mailboxes {
            passwd.push_str(&format!("{address}:{{PLAIN}}{password}\n"));
            for sub in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(root.join("mail").join(address).join(sub)).map_err(|e| e.to_string())?;
            }
        }
        std::fs::write(root.join("passwd"), passwd).map_err(|e| e.to_string())?;
        for sub in ["run", "lib", "home"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| e.to_string())?;
        }
        let (user, uid) = if as_dovecot {
            let out = Command::new("id").args(["-u", "dovecot"]).output().map_err(|e| e.to_string())?;
            ("dovecot".to_owned(), String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            let name = Command::new("id").arg("-un").output().map_err(|e| e.to_string())?;
            let uid = Command::new("id").arg("-u").output().map_err(|e| e.to_string())?;
            (
                String::from_utf8_lossy(&name.stdout).trim().to_owned(),
                String::from_utf8_lossy(&uid.stdout).trim().to_owned(),
            )
        };
        let (imap_port, imaps_port, smtp_port) = (free_port()?, free_port()?, free_port()?);
        let r = root.display();
        let config = format!(
            "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {r}/run/\nstate_dir = {r}/lib/\nlog_path = {r}/dovecot.log\n\
             ssl = yes\nssl_cert = <{r}/cert.pem\nssl_key = <{r}/key.pem\ndisable_plaintext_auth = no\n\
             auth_mechanisms = plain login\nauth_failure_delay = 0\ndefault_internal_user = {user}\n\
             default_internal_group = {user}\ndefault_login_user = {user}\nfirst_valid_uid = {uid}\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {r}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid={user} gid={user} home={r}/home/%u\n}}\n\
             mail_location = maildir:{r}/mail/%u\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap_port}\n  }}\n\
               inet_listener imaps {{\n    address = 127.0.0.1\n    port = {imaps_port}\n    ssl = yes\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\nservice stats {{\n  chroot =\n}}\n"
        );
        std::fs::write(root.join("dovecot.conf"), config).map_err(|e| e.to_string())?;
        if as_dovecot {
            run(Command::new("chown").args(["-R", "dovecot:dovecot"]).arg(&root), "chown")?;
        }
        let conf = root.join("dovecot.conf");
        let mut dovecot = if as_dovecot { Command::new("runuser") } else { Command::new("dovecot") };
        if as_dovecot {
            dovecot.args(["-u", "dovecot", "--", "dovecot"]);
        }
        dovecot.arg("-c").arg(&conf);
        // It daemonises and its daemon keeps any pipe open: wait for the status only (errors go
        // to its log, shown if it does not listen).
        let started = dovecot
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run dovecot: {e}"))?;
        if !started.success() {
            return Err(format!(
                "dovecot did not start ({started}); its log: {}",
                std::fs::read_to_string(root.join("dovecot.log")).unwrap_or_default()
            ));
        }
        // The watchdog: once this process is gone, stop both servers and remove the directory.
        let stop = if as_dovecot { "runuser -u dovecot -- doveadm" } else { "doveadm" };
        let script = format!(
            "trap '' INT TERM HUP; while kill -0 {pid} 2>/dev/null; do sleep 0.2; done; \
             {stop} -c '{conf}' stop >/dev/null 2>&1; pkill -f 'aiosmtpd.*{r}' >/dev/null 2>&1; rm -rf '{r}'",
            pid = std::process::id(),
            conf = conf.display(),
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the mail servers' watchdog: {e}"))?;
        let log = root.join("dovecot.log");
        wait_for_port(imap_port, "Dovecot", &log)?;
        wait_for_port(imaps_port, "Dovecot (IMAPS)", &log)?;
        let mut servers = MailServers {
            root,
            _dir: dir,
            imap_port,
            imaps_port,
            smtp_port,
            cert_pem,
            smtp: None,
            deliver_to: deliver_to.to_owned(),
            passwords: mailboxes.iter().map(|(a, p)| ((*a).to_owned(), (*p).to_owned())).collect(),
            as_dovecot,
            python,
        };
        servers.start_smtp()?;
        Ok(servers)
    }

    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }
    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port
    }
    /// PEM of the certificate both servers present.
    pub fn ca_cert_pem(&self) -> &str {
        &self.cert_pem
    }
    pub fn ca_cert_path(&self) -> PathBuf {
        self.root.join("cert.pem")
    }

    /// Start aiosmtpd (again) on the same port.
    pub fn start_smtp(&mut self) -> Result<(), String> {
        if self.smtp.is_some() {
            return Ok(());
        }
        let maildir = self.root.join("mail").join(&self.deliver_to);
        let log = self.root.join("smtp.log");
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut cmd = if self.as_dovecot { Command::new("runuser") } else { Command::new(self.python) };
        if self.as_dovecot {
            cmd.args(["-u", "dovecot", "--", self.python]);
        }
        cmd.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{}", self.smtp_port)])
            .arg("--tlscert")
            .arg(self.root.join("cert.pem"))
            .arg("--tlskey")
            .arg(self.root.join("key.pem"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
            .stderr(log_file);
        let child = cmd.spawn().map_err(|e| format!("cannot start aiosmtpd: {e}"))?;
        self.smtp = Some(child);
        wait_for_port(self.smtp_port, "aiosmtpd", &log)
    }

    /// Stop only the SMTP server (to test sends that fail and are retried).
    pub fn stop_smtp(&mut self) -> Result<(), String> {
        if let Some(mut child) = self.smtp.take() {
            let _ = Command::new("pkill").args(["-P", &child.id().to_string()]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("pkill").args(["-f", &format!("aiosmtpd.*127.0.0.1:{}", self.smtp_port)]).status();
        Ok(())
    }

    fn password(&self, address: &str) -> Result<&str, String> {
        self.passwords
            .iter()
            .find(|(a, _)| a == address)
            .map(|(_, p)| p.as_str())
            .ok_or_else(|| format!("no mailbox {address}"))
    }

    /// Run a Python IMAP script (logged in as `address`, the connection in `m`); its stdout.
    fn imap(&self, address: &str, body: &str, input: &[u8]) -> Result<Vec<u8>, String> {
        let script = format!(
            "import imaplib, ssl, sys\n\
             ctx = ssl.create_default_context(cafile={cafile:?})\n\
             m = imaplib.IMAP4_SSL('127.0.0.1', {port}, ssl_context=ctx)\n\
             m.login({user:?}, {password:?})\n{body}\nm.logout()\n",
            cafile = self.ca_cert_path().display().to_string(),
            port = self.imaps_port,
            user = address,
            password = self.password(address)?,
        );
        let mut child = Command::new(self.python)
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input).map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("IMAP as {address} failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(out.stdout)
    }

    /// IMAP `APPEND` of `raw` to the INBOX of `address`; returns (UIDVALIDITY, UID).
    pub fn append(&self, address: &str, raw: &[u8]) -> Result<(u32, u32), String> {
        let out = self.imap(
            address,
            "typ, data = m.append('INBOX', None, None, sys.stdin.buffer.read())\n\
             import re\nprint(re.search(rb'APPENDUID (\\d+) (\\d+)', data[0]).group(1).decode(), re.search(rb'APPENDUID (\\d+) (\\d+)', data[0]).group(2).decode())",
            raw,
        )?;
        let text = String::from_utf8_lossy(&out);
        let mut parts = text.split_whitespace().map(|p| p.parse::<u32>());
        match (parts.next(), parts.next()) {
            (Some(Ok(validity)), Some(Ok(uid))) => Ok((validity, uid)),
            _ => Err(format!("APPEND answered no APPENDUID: {text}")),
        }
    }

    /// Every message in the INBOX of `address`, in UID order, as raw bytes.
    pub fn messages(&self, address: &str) -> Result<Vec<Vec<u8>>, String> {
        let out = self.imap(
            address,
            "m.select('INBOX', readonly=True)\n\
             typ, data = m.uid('search', None, 'ALL')\n\
             import base64\n\
             for uid in sorted(int(u) for u in data[0].split()):\n\
             \x20   typ, msg = m.uid('fetch', str(uid), '(BODY.PEEK[])')\n\
             \x20   print(base64.b64encode(msg[0][1]).decode())",
            b"",
        )?;
        String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| decode_base64(l.trim()))
            .collect()
    }

    /// Wait until the INBOX of `address` holds at least `n` messages; returns them.
    pub fn wait_for_messages(&self, address: &str, n: usize, timeout: Duration) -> Result<Vec<Vec<u8>>, String> {
        let until = Instant::now() + timeout;
        loop {
            let found = self.messages(address)?;
            if found.len() >= n {
                return Ok(found);
            }
            if Instant::now() >= until {
                return Err(format!(
                    "{address} holds {} messages, not {n}, after {} s; the SMTP log: {}",
                    found.len(),
                    timeout.as_secs(),
                    std::fs::read_to_string(self.root.join("smtp.log")).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Mark every message in the INBOX as read (as another mail client would).
    pub fn mark_all_seen(&self, address: &str) -> Result<(), String> {
        self.imap(address, "m.select('INBOX')\nm.store('1:*', '+FLAGS', '\\\\Seen')", b"").map(|_| ())
    }
}

fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET.iter().position(|a| *a == byte).ok_or_else(|| format!("not base64: {byte}"))?;
        buffer = (buffer << 6) | u32::try_from(value).unwrap_or(0);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).unwrap_or(0));
        }
    }
    Ok(out)
}

impl Drop for MailServers {
    fn drop(&mut self) {
        let _ = self.stop_smtp();
        let conf = self.root.join("dovecot.conf");
        let mut stop = if self.as_dovecot { Command::new("runuser") } else { Command::new("doveadm") };
        if self.as_dovecot {
            stop.args(["-u", "dovecot", "--", "doveadm"]);
        }
        let _ = stop.arg("-c").arg(&conf).arg("stop").stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}
