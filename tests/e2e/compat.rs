//! Compatibility: a client built from the protocol as it was released with protocol 1
//! (`liaison-protocol-v1`, a frozen copy, strict about entity kinds) syncs contacts against
//! today's server, which holds queues, cases, messages, attachments and conflicts about cases.
//! Every answer it gets must decode with its own types: one row of a kind it does not know would
//! fail its whole page.

use crate::harness::{Client, PASSWORD, Server};
use liaison_protocol_v1 as v1;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A client speaking protocol 1 over HTTPS, with the server's certificate pinned.
struct OldClient {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl OldClient {
    async fn login(server: &Server, user: &str) -> OldClient {
        let tls = liaison_server::testing::pinned_client_config(&server.fingerprint).expect("tls");
        let http = reqwest::Client::builder().use_preconfigured_tls(tls).build().expect("http client");
        let mut client = OldClient { http, url: server.url.clone(), token: String::new() };
        let request = v1::wire::LoginRequest {
            user: user.into(),
            password: PASSWORD.into(),
            device_id: Uuid::now_v7(),
            device_name: "old laptop".into(),
        };
        let response: v1::wire::LoginResponse = client.post("/v1/login", &request).await;
        client.token = response.token;
        client
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .header(v1::wire::PROTOCOL_HEADER, v1::PROTOCOL_VERSION.to_string())
            .header(v1::wire::APP_HEADER, "0.1.0")
            .bearer_auth(&self.token)
    }

    /// The body, decoded strictly with protocol 1's types.
    async fn decode<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> T {
        let status = response.status();
        let bytes = response.bytes().await.expect("body");
        assert!(status.is_success(), "HTTP {status}: {}", String::from_utf8_lossy(&bytes));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!("a protocol 1 client cannot read this answer ({e}): {}", String::from_utf8_lossy(&bytes))
        })
    }

    async fn post<B: serde::Serialize, T: serde::de::DeserializeOwned>(&self, path: &str, body: &B) -> T {
        Self::decode(self.request(reqwest::Method::POST, path).json(body).send().await.expect("send")).await
    }

    async fn pull_all(&self) -> Vec<v1::wire::RowState> {
        let (mut rows, mut since) = (Vec::new(), 0);
        loop {
            let page: v1::wire::PullResponse = Self::decode(
                self.request(reqwest::Method::GET, &format!("/v1/pull?since={since}&limit=5"))
                    .send()
                    .await
                    .expect("pull"),
            )
            .await;
            rows.extend(page.rows);
            if !page.has_more {
                return rows;
            }
            since = page.next_cursor;
        }
    }

    async fn snapshot(&self) -> Vec<v1::wire::RowState> {
        let response = self.request(reqwest::Method::GET, "/v1/snapshot").send().await.expect("snapshot");
        assert!(response.status().is_success());
        let text = response.text().await.expect("body");
        let mut rows = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<v1::wire::SnapshotLine>(line)
                .unwrap_or_else(|e| panic!("a protocol 1 client cannot read {line}: {e}"))
            {
                v1::wire::SnapshotLine::Row(row) => rows.push(row),
                v1::wire::SnapshotLine::Start { .. } | v1::wire::SnapshotLine::End { .. } => {}
            }
        }
        rows
    }
}

fn contact_change(id: Uuid, name: &str) -> v1::wire::Change {
    let hlc = v1::hlc::Hlc::new(u64::try_from(chrono::Utc::now().timestamp_millis()).expect("time"), 0);
    v1::wire::Change {
        change_id: Uuid::now_v7(),
        entity: v1::schema::EntityKind::Contact,
        row_id: id,
        base_seq: 0,
        fields: BTreeMap::from([(
            "display_name".to_owned(),
            v1::wire::FieldWrite { value: serde_json::json!(name), hlc },
        )]),
        deleted: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_protocol_1_syncs_contacts_against_a_server_with_the_desk_unaffected() {
    let server = Server::start();
    server.add_user("ana", "staff");
    server.add_user("ben", "volunteer");
    server.admin(&["queue", "add", "--name", "info-en"]);
    server.admin(&["queue", "member", "add", "info-en", "ben"]);
    // Today's client fills the server with everything protocol 2 knows.
    let today = Client::new();
    today.login(&server, "ana");
    today.ok(&["sync"]);
    let reader = today.ok(&["contact", "add", "--name", "Rita Reader"]);
    let case =
        today.ok(&["case", "new", "--queue", "info-en", "--subject", "A case", "--reader", &reader, "--text", "hello"]);
    let file = today.tmp.path().join("f.txt");
    std::fs::write(&file, b"file").expect("file");
    today.ok(&["case", "note", &case, "--text", "note", "--attach", file.to_str().expect("path")]);
    today.ok(&["sync"]);
    // A second of today's devices edits the same case field: a conflict owned by a case.
    let other = Client::new();
    other.login(&server, "ana");
    other.ok(&["sync"]);
    today.ok(&["case", "edit", &case, "--category", "dates"]);
    other.ok(&["case", "edit", &case, "--category", "facts"]);
    today.ok(&["sync"]);
    other.ok(&["sync"]);

    for user in ["ana", "ben"] {
        let old = OldClient::login(&server, user).await;
        // Its own push of a contact is accepted as always.
        let mine = Uuid::now_v7();
        let pushed: v1::wire::PushResponse = old
            .post(
                "/v1/push",
                &v1::wire::PushRequest {
                    batch_id: Uuid::now_v7(),
                    changes: vec![contact_change(mine, &format!("Old client's contact ({user})"))],
                },
            )
            .await;
        assert_eq!(pushed.results[0].outcome, v1::wire::Outcome::Accepted, "{user}: {pushed:?}");

        let pulled = old.pull_all().await;
        let snapshot = old.snapshot().await;
        for rows in [&pulled, &snapshot] {
            let names: Vec<&str> =
                rows.iter().filter_map(|r| r.fields.get("display_name")).filter_map(|f| f.value.as_str()).collect();
            assert!(
                names.contains(&"Rita Reader") && names.iter().any(|n| n.starts_with("Old client's contact")),
                "{user}: contacts arrive: {names:?}"
            );
            assert!(
                rows.iter()
                    .all(|r| r.entity != v1::schema::EntityKind::Conflict || r.fields.contains_key("contact_id")),
                "{user}: only conflicts about contacts"
            );
        }
    }
    today.ok(&["sync"]);
    let found = today.json(&["contact", "search", "Old client"]);
    assert_eq!(found.as_array().map(Vec::len), Some(2), "today's clients receive what the old ones wrote: {found}");
    // Today's devices still see the case's conflict; the old ones never received it.
    assert!(!today.json(&["conflicts", "list"]).as_array().expect("list").is_empty(), "the case conflict exists");
}
