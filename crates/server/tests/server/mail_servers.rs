//! The test mail system of `liaison_server::testing::mail`: real Dovecot and aiosmtpd on
//! loopback, driven as the mail tests drive them. The other side of each conversation here is
//! Python's `imaplib` or `smtplib`, trusting only the servers' certificate, as a mail client
//! pinning it would.

use liaison_server::testing::mail::MailServers;
use std::process::Command;
use std::time::{Duration, Instant};

const QUEUE: &str = "info-en@example.test";
const READER: &str = "reader@example.org";

fn servers() -> MailServers {
    MailServers::start(&[(QUEUE, "secret"), (READER, "reader")], READER)
        .expect("Dovecot and aiosmtpd start (cargo xtask setup installs them)")
}

/// Debian's Python (where python3-aiosmtpd lives) before the one on the PATH.
fn python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" }
}

/// Run a Python `script` with `args`: its stdout, or its stderr as the error.
fn run_python(script: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(python()).arg("-c").arg(script).args(args).output().expect("run python3");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Send one message with `subject` from the queue to the reader over SMTP, `mode` `starttls` or
/// `smtps`.
fn send(mail: &MailServers, port: u16, mode: &str, subject: &str) -> Result<String, String> {
    const SCRIPT: &str = r#"
import smtplib, ssl, sys
port, mode, cafile, sender, rcpt, subject = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
if mode == 'smtps':
    s = smtplib.SMTP_SSL('127.0.0.1', int(port), context=ctx, timeout=10)
else:
    s = smtplib.SMTP('127.0.0.1', int(port), timeout=10)
    s.starttls(context=ctx)
msg = 'From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@example.test>\r\n\r\nHello.\r\n' % (
    sender, rcpt, subject, subject)
s.sendmail(sender, [rcpt], msg)
s.quit()
"#;
    let cafile = mail.ca_cert_path().to_string_lossy().into_owned();
    run_python(SCRIPT, &[&port.to_string(), mode, &cafile, QUEUE, READER, subject])
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    raw.lines().find(|l| l.to_ascii_lowercase().starts_with(&prefix)).map(|l| l[prefix.len()..].trim())
}

fn refuses(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

#[test]
fn a_message_appended_to_a_mailbox_is_read_back_over_imap_with_its_uid() {
    let mail = servers();
    assert!(mail.messages(QUEUE).expect("read the empty INBOX").is_empty());
    let first = b"From: Rita Reader <reader@example.org>\r\nTo: info-en@example.test\r\nSubject: Error\r\n\
                  Message-ID: <one@example.org>\r\n\r\nThe date is wrong.\r\n";
    let second = b"From: Rita Reader <reader@example.org>\r\nTo: info-en@example.test\r\nSubject: Another\r\n\
                   Message-ID: <two@example.org>\r\n\r\nCaf\xc3\xa9 \xff raw 8-bit bytes.\r\n";
    let (validity, uid) = mail.append(QUEUE, first).expect("append the first");
    let (validity_again, next_uid) = mail.append(QUEUE, second).expect("append the second");
    assert_eq!(validity, validity_again, "one UIDVALIDITY for the mailbox");
    assert!(validity > 0);
    assert_eq!((uid, next_uid), (1, 2), "UIDs count up from 1 in a fresh mailbox");

    let read = mail.messages(QUEUE).expect("read the INBOX");
    assert_eq!(read, vec![first.to_vec(), second.to_vec()], "byte for byte, in UID order");
    assert!(mail.messages(READER).expect("read the other INBOX").is_empty(), "only the named mailbox got them");
    assert_eq!(mail.mailboxes().len(), 2);
}

#[test]
fn mail_accepted_by_smtp_lands_in_the_delivery_mailbox_where_imap_reads_it() {
    let mail = servers();
    send(&mail, mail.smtp_port(), "starttls", "over-starttls").expect("send with STARTTLS");
    send(&mail, mail.smtps_port(), "smtps", "over-smtps").expect("send over implicit TLS");
    let got = mail.wait_for_messages(READER, 2, Duration::from_secs(10)).expect("both arrive");
    assert_eq!(got.len(), 2, "each accepted message lands once");
    let mut subjects: Vec<String> =
        got.iter().map(|raw| header(&String::from_utf8_lossy(raw), "Subject").expect("a Subject").to_owned()).collect();
    subjects.sort();
    assert_eq!(subjects, ["over-smtps", "over-starttls"]);
    let first = String::from_utf8_lossy(&got[0]).into_owned();
    assert_eq!(header(&first, "From"), Some(QUEUE));
    assert!(first.contains("Hello."), "{first}");
    assert!(mail.messages(QUEUE).expect("read the queue's INBOX").is_empty(), "nothing lands anywhere else");
}

#[test]
fn smtp_without_starttls_is_refused_before_mail_from() {
    let mail = servers();
    let said = run_python(
        r#"
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)
s.ehlo()
print('STARTTLS offered' if s.has_extn('starttls') else 'no STARTTLS')
print(s.mail('info-en@example.test')[0])
"#,
        &[&mail.smtp_port().to_string()],
    )
    .expect("talk SMTP");
    assert_eq!(said.lines().collect::<Vec<_>>(), ["STARTTLS offered", "530"], "{said}");
}

#[test]
fn imap_logs_in_with_starttls_and_implicit_tls_trusting_only_the_test_certificate() {
    const SCRIPT: &str = r#"
import imaplib, ssl, sys
port, mode, cafile, user, password = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
if mode == 'imaps':
    m = imaplib.IMAP4_SSL('127.0.0.1', int(port), ssl_context=ctx, timeout=10)
else:
    m = imaplib.IMAP4('127.0.0.1', int(port), timeout=10)
    m.starttls(ssl_context=ctx)
print(m.login(user, password)[0])
m.logout()
"#;
    let mail = servers();
    let cafile = mail.ca_cert_path().to_string_lossy().into_owned();
    assert_eq!(std::fs::read_to_string(mail.ca_cert_path()).expect("read the cert file"), mail.ca_cert_pem());
    for (port, mode) in [(mail.imap_port(), "starttls"), (mail.imaps_port(), "imaps")] {
        let said = run_python(SCRIPT, &[&port.to_string(), mode, &cafile, QUEUE, "secret"]);
        assert_eq!(said.as_deref().map(str::trim), Ok("OK"), "{mode} login trusting the test certificate");
        let refused = run_python(SCRIPT, &[&port.to_string(), mode, "", QUEUE, "secret"]).expect_err("untrusted");
        assert!(refused.contains("CERTIFICATE_VERIFY_FAILED"), "{mode} with the system's roots: {refused}");
    }
    // Once only: Dovecot delays later logins from an address that failed one (anvil's penalty).
    let wrong = run_python(SCRIPT, &[&mail.imaps_port().to_string(), "imaps", &cafile, QUEUE, "wrong"]);
    let wrong = wrong.expect_err("a wrong password is refused");
    assert!(wrong.contains("AUTHENTICATIONFAILED"), "{wrong}");
}

#[test]
fn mark_all_seen_flags_every_message_that_reading_them_left_unseen() {
    const FLAGS: &str = r#"
import imaplib, ssl, sys
port, cafile, user, password = sys.argv[1:5]
m = imaplib.IMAP4_SSL('127.0.0.1', int(port), ssl_context=ssl.create_default_context(cafile=cafile), timeout=10)
m.login(user, password)
m.select('INBOX', readonly=True)
typ, data = m.fetch('1:*', '(FLAGS)')
for line in data:
    print('seen' if b'\\Seen' in line else 'unseen')
"#;
    let mail = servers();
    mail.mark_all_seen(QUEUE).expect("an empty INBOX is fine");
    for n in 0..2 {
        mail.append(QUEUE, format!("Subject: {n}\r\n\r\nBody {n}.\r\n").as_bytes()).expect("append");
    }
    let cafile = mail.ca_cert_path().to_string_lossy().into_owned();
    let flags = || run_python(FLAGS, &[&mail.imaps_port().to_string(), &cafile, QUEUE, "secret"]).expect("flags");
    assert_eq!(mail.messages(QUEUE).expect("read").len(), 2);
    assert_eq!(flags(), "unseen\nunseen\n", "reading them with messages() marks nothing");
    mail.mark_all_seen(QUEUE).expect("mark them");
    assert_eq!(flags(), "seen\nseen\n");
}

#[test]
fn stop_smtp_refuses_connections_and_start_smtp_accepts_again() {
    let mut mail = servers();
    let (smtp, smtps) = (mail.smtp_port(), mail.smtps_port());
    mail.stop_smtp().expect("stop");
    assert!(refuses(smtp) && refuses(smtps), "both SMTP ports refuse once stopped");
    assert!(send(&mail, smtp, "starttls", "while-stopped").is_err(), "a send fails");
    mail.stop_smtp().expect("stopping twice is fine");
    assert!(!refuses(mail.imaps_port()), "IMAP keeps running");

    mail.start_smtp().expect("start again");
    assert_eq!((mail.smtp_port(), mail.smtps_port()), (smtp, smtps), "the same ports");
    send(&mail, smtp, "starttls", "after-restart").expect("send after the restart");
    let got = mail.wait_for_messages(READER, 1, Duration::from_secs(10)).expect("it arrives");
    assert_eq!(got.len(), 1);
    assert_eq!(header(&String::from_utf8_lossy(&got[0]), "Subject"), Some("after-restart"));
}

#[test]
fn dropping_the_servers_stops_them_and_removes_their_directory() {
    let mail = servers();
    let dir = mail.ca_cert_path().parent().expect("the servers' directory").to_path_buf();
    let ports = [mail.imap_port(), mail.imaps_port(), mail.smtp_port(), mail.smtps_port()];
    assert!(dir.starts_with("/tmp") && dir.is_dir(), "{}", dir.display());
    drop(mail);
    let until = Instant::now() + Duration::from_secs(5);
    while ports.iter().any(|p| !refuses(*p)) || dir.exists() {
        assert!(Instant::now() < until, "servers still listen on {ports:?} or {} remains", dir.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn start_refuses_a_delivery_mailbox_that_is_not_one_of_the_mailboxes() {
    let Err(e) = MailServers::start(&[(QUEUE, "secret")], READER) else { panic!("started") };
    assert!(e.contains(READER), "{e}");
}

/// Set in the child process of the next test: start the servers, say where, wait to be killed.
const CHILD: &str = "LIAISON_MAIL_SERVERS_CHILD";

#[test]
fn started_by_a_test_process_that_is_killed() {
    if std::env::var_os(CHILD).is_none() {
        return; // Only a helper of the test below.
    }
    let mail = servers();
    let dir = mail.ca_cert_path().parent().expect("dir").display().to_string();
    println!("MAILSERVERS {dir} {} {} {} {}", mail.imap_port(), mail.imaps_port(), mail.smtp_port(), mail.smtps_port());
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_test_process_killed_outright_leaves_no_mail_server_and_no_directory_behind() {
    use std::io::BufRead;
    let mut child = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "mail_servers::started_by_a_test_process_that_is_killed", "--nocapture"])
        .env(CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the child");
    let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let line = stdout
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("MAILSERVERS "))
        .expect("the child started the servers");
    let words: Vec<&str> = line.split_whitespace().collect();
    let dir = std::path::PathBuf::from(words[1]);
    let ports: Vec<u16> = words[2..].iter().map(|p| p.parse().expect("a port")).collect();
    assert_eq!(ports.len(), 4);
    assert!(dir.is_dir() && ports.iter().all(|p| !refuses(*p)), "the child's servers run");

    child.kill().expect("SIGKILL the child: no unwinding, no Drop");
    child.wait().expect("reap the child");
    let until = Instant::now() + Duration::from_secs(10);
    while ports.iter().any(|p| !refuses(*p)) || dir.exists() {
        assert!(Instant::now() < until, "after the kill, {ports:?} still listen or {} remains", dir.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}
