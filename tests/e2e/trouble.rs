//! What goes wrong in the field: the server is down, its certificate changed, a fingerprint
//! was not checked, a form had a bad value. A clear message, a non-zero exit, nothing lost.

use crate::harness::{Client, Server};

#[test]
fn sync_with_the_server_down_fails_clearly_and_keeps_the_changes() {
    let server = Server::start();
    server.add_user("ana", "staff");
    let a = Client::new();
    a.login(&server, "ana");
    drop(server);
    a.ok(&["contact", "add", "--name", "Offline Entry"]);
    let err = a.fails(&["sync"]);
    assert!(err.contains("Could not reach the server"), "{err}");
    assert!(a.pending() > 0, "the unsent change is kept for later");
    let status = a.json(&["status"]);
    assert_eq!(
        status["sync"]["last_error"]["code"], "server_unreachable",
        "the status line shows why the last sync failed"
    );
}

#[test]
fn a_changed_server_certificate_is_refused() {
    let server = Server::start();
    server.add_user("ana", "staff");
    let a = Client::new();
    a.login(&server, "ana");
    a.ok(&["contact", "add", "--name", "Before The Swap"]);
    a.ok(&["sync"]);
    // Same address, same accounts, new certificate: what an interception would look like.
    let port = server.port;
    let old_fingerprint = server.fingerprint.clone();
    let dir = server.stop();
    std::fs::remove_dir_all(dir.path().join("tls")).expect("remove the server's certificate");
    let server = Server::start_in(dir, &format!("127.0.0.1:{port}"));
    assert_ne!(server.fingerprint, old_fingerprint, "the restarted server has a new certificate");
    a.ok(&["contact", "add", "--name", "After The Swap"]);
    let err = a.fails(&["sync"]);
    assert!(err.contains("different certificate"), "{err}");
    assert!(a.pending() > 0, "nothing was sent to the impostor");
}

#[test]
fn login_without_a_terminal_requires_the_fingerprint_and_checks_it() {
    let server = Server::start();
    server.add_user("ana", "staff");
    let a = Client::new();
    let err = a.fails(&["login", &server.url, "--user", "ana"]);
    assert!(err.contains("--fingerprint"), "tells how to proceed: {err}");
    let wrong = "00".repeat(32);
    let err = a.fails(&["login", &server.url, "--user", "ana", "--fingerprint", &wrong]);
    assert!(err.contains(&server.fingerprint), "shows the real fingerprint for comparison: {err}");
    assert_eq!(a.json(&["status"])["sync"]["logged_in"], false);
    let out = a
        .command(&["login", &server.url, "--user", "ana", "--fingerprint", &server.fingerprint])
        .env("LIAISON_PASSWORD", "wrong password")
        .output()
        .expect("run");
    assert!(!out.status.success(), "a wrong password does not sign in");
}

#[test]
fn sync_before_login_says_to_sign_in() {
    let a = Client::new();
    let err = a.fails(&["sync"]);
    assert!(err.contains("not signed in"), "{err}");
}

#[test]
fn an_invalid_email_is_refused_and_nothing_is_stored() {
    let a = Client::new();
    let err = a.fails(&["contact", "add", "--name", "X", "--email", "x@@example"]);
    assert!(err.contains("x@@example") && err.contains("not a valid email"), "{err}");
    assert!(a.ok(&["contact", "list"]).is_empty());
}
