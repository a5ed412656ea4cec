//! Shedding past `--max-in-flight`: a request over the limit is answered at once with 503
//! OVERLOADED and `Retry-After: 1`, appends nothing, and `/health` still answers 200.
//!
//! Deterministic: two POSTs whose bodies are sent only in part hold the server's two slots
//! (a slot is taken when the headers arrive, and the handler then waits for the body), so the
//! next request is surely over the limit. Then a burst on a server made slow with `--sync full`
//! checks the bookkeeping under real concurrency: every answer is 202 or 503, and the log holds
//! exactly one OrderPlaced per 202.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use rusqlite::types::Value as Sql;

use crate::{Answer, Server, cli_token, order, rows};

fn placed(server: &Server) -> i64 {
    let found = rows(
        &server.data,
        "SELECT COUNT(*) FROM events WHERE event_type = 'OrderPlaced'",
    );
    let Sql::Integer(n) = found[0][0] else {
        panic!("{found:?}");
    };
    n
}

/// A POST /orders whose headers and first bytes of body are sent, the rest held back.
struct SlowPost {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl SlowPost {
    fn start(server: &Server, token: &str) -> Self {
        let body = order("shed.probe@example.com", "tok_visa").to_string();
        let addr = server.base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let head = format!(
            "POST /orders HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let (first, rest) = body.as_bytes().split_at(5);
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(first).unwrap();
        stream.flush().unwrap();
        Self {
            stream,
            rest: rest.to_vec(),
        }
    }

    /// Whether the server has answered already (it shed the request before its body came).
    fn answered(&self) -> bool {
        self.stream.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let answered = matches!(self.stream.peek(&mut byte), Ok(n) if n > 0);
        self.stream.set_nonblocking(false).unwrap();
        answered
    }

    /// Sends the rest of the body; returns the response's status line.
    fn finish(mut self) -> String {
        self.stream.write_all(&self.rest).unwrap();
        let mut text = String::new();
        self.stream.read_to_string(&mut text).unwrap();
        text.lines().next().unwrap_or_default().to_owned()
    }
}

fn assert_overloaded(a: &Answer) {
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{a:?}");
    assert_eq!(a.body["error"]["code"], "OVERLOADED", "{a:?}");
    let retry = a.headers.get("retry-after").map(|v| v.to_str().unwrap());
    assert_eq!(retry, Some("1"), "{a:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_in_flight_a_request_is_shed_with_503_and_nothing_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--max-in-flight", "2", "--rate-limit", "off"];
    let server = Server::start(dir.path(), "shed", &args, &[]).await;
    let token = cli_token(&server.data, "shed-probe", &[]);
    let mut slow = [
        SlowPost::start(&server, &token),
        SlowPost::start(&server, &token),
    ];
    // Until both slow requests reach the handler, a cheap read may still get through, and a
    // read that arrives before one of them takes its slot has it shed: that one is started
    // again.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            Instant::now() < deadline,
            "the slow requests never held the slots"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Some(shed) = slow.iter_mut().find(|s| s.answered()) {
            *shed = SlowPost::start(&server, &token);
            continue;
        }
        let a = server.get("/orders", &token).await;
        if a.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_overloaded(&a);
            break;
        }
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
    }
    let before = placed(&server);
    for _ in 0..5 {
        let body = order("shed.probe@example.com", "tok_visa");
        let a = server
            .send(Method::POST, "/orders", Some(&token), Some(&body))
            .await;
        assert_overloaded(&a);
        let health = server.client.get(format!("{}/health", server.base));
        assert_eq!(health.send().await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(placed(&server), before, "nothing appended for a shed POST");

    let answers = tokio::task::spawn_blocking(move || slow.map(SlowPost::finish))
        .await
        .unwrap();
    for status in &answers {
        assert!(status.starts_with("HTTP/1.1 202"), "{answers:?}");
    }
    assert_eq!(placed(&server), before + 2);
    // The slots are free again.
    let id = server
        .place(&token, "shed.probe@example.com", "tok_visa")
        .await;
    assert_eq!(server.finished(&id, &token).await["status"], "COMPLETED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_on_a_slow_server_gets_202_or_503_and_one_order_per_202() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--max-in-flight",
        "2",
        "--rate-limit",
        "off",
        "--sync",
        "full",
    ];
    let server = std::sync::Arc::new(Server::start(dir.path(), "burst", &args, &[]).await);
    let token = cli_token(&server.data, "burst-probe", &[]);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..48 {
        let (server, token) = (server.clone(), token.clone());
        set.spawn(async move {
            let body = order("burst.probe@example.com", "tok_visa");
            server
                .send(Method::POST, "/orders", Some(&token), Some(&body))
                .await
        });
    }
    let mut accepted = 0;
    let mut shed = 0;
    while let Some(a) = set.join_next().await {
        let a = a.unwrap();
        if a.status == StatusCode::ACCEPTED {
            accepted += 1;
        } else {
            assert_overloaded(&a);
            shed += 1;
        }
    }
    assert_eq!(accepted + shed, 48);
    assert!(accepted >= 1, "every request shed");
    assert_eq!(placed(&server), accepted, "one OrderPlaced per 202");
}
