//! The load generator's HTTP/1.1 client, as lean as a load tester's (`wrk`, `oha`): one
//! keep-alive TCP connection per simulated client, each request's bytes built once before the
//! clock starts, and each answer read to its last byte (its status and `Retry-After` kept, the
//! body read and dropped).
//!
//! `pipeline-bench` shares the two cores with the server it measures, so every microsecond the
//! load generator spends is one the server does not get. A general-purpose client (`reqwest`:
//! a header map per request, a connection pool, a task per connection behind a channel) spent
//! 16–28 µs of CPU per order; this one writes one buffer and reads into another. It speaks
//! only what the benchmark needs: answers framed by `Content-Length` (the server's every
//! answer), and it fails loudly on anything else (a chunked body, a malformed head) rather
//! than guess.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest answer head read before giving up on it.
const MAX_HEAD: usize = 16 * 1024;

/// What the benchmark keeps of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// `Retry-After` in seconds, when the answer has one.
    pub retry_after: Option<Duration>,
}

/// A whole request (head and body), built once and sent as many times as needed.
#[must_use]
pub fn post(host: &str, path: &str, authorization: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: {authorization}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// One keep-alive connection; requests on it go one at a time.
pub struct Connection {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    /// Connects to `addr` (with `TCP_NODELAY`, as every HTTP client sets it).
    ///
    /// # Errors
    /// The connection could not be made.
    pub async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let mut c = Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(4096),
        };
        c.connect().await?;
        Ok(c)
    }

    async fn connect(&mut self) -> std::io::Result<&mut TcpStream> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        self.buf.clear();
        Ok(self.stream.insert(stream))
    }

    /// Sends `request` and reads its whole answer. A connection the server closed (it said
    /// `connection: close`) or that failed is opened again before the next request, never
    /// during one: this client never sends a POST twice.
    ///
    /// # Errors
    /// The connection failed, or the answer was not one this client reads.
    pub async fn send(&mut self, request: &[u8]) -> std::io::Result<Reply> {
        let answer = self.exchange(request).await;
        if answer.is_err() {
            self.stream = None;
        }
        answer
    }

    async fn exchange(&mut self, request: &[u8]) -> std::io::Result<Reply> {
        let stream = match self.stream.as_mut() {
            Some(s) => s,
            None => self.connect().await?,
        };
        stream.write_all(request).await?;
        loop {
            if let Some(head) = parse_head(&self.buf)? {
                let whole = head.len + head.content_length;
                if self.buf.len() >= whole {
                    self.buf.drain(..whole);
                    if head.close {
                        self.stream = None;
                    }
                    return Ok(head.reply);
                }
            } else if self.buf.len() > MAX_HEAD {
                return Err(invalid("an answer head longer than 16 KiB"));
            }
            let stream = self
                .stream
                .as_mut()
                .ok_or_else(|| invalid("no connection"))?;
            self.buf.reserve(4096);
            if stream.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server closed the connection before its answer ended",
                ));
            }
        }
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// An answer's head, once all of it has arrived.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    /// Bytes of the head, its blank line included.
    len: usize,
    reply: Reply,
    content_length: usize,
    /// The server will close the connection after this answer.
    close: bool,
}

/// The head at the start of `buf`: `None` until its blank line has arrived.
fn parse_head(buf: &[u8]) -> std::io::Result<Option<Head>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| invalid("a head not in UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("a malformed status line"))?;
    let (mut content_length, mut retry_after, mut close) = (0, None, false);
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid("a malformed header line"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value
                .parse()
                .map_err(|_| invalid("a malformed content-length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid("a chunked answer (only content-length is read)"));
        } else if name.eq_ignore_ascii_case("retry-after") {
            retry_after = value.parse().ok().map(Duration::from_secs);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    Ok(Some(Head {
        len: end + 4,
        reply: Reply {
            status,
            retry_after,
        },
        content_length,
        close,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_read_once_its_blank_line_has_arrived() {
        let answer =
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\nRetry-After: 1\r\n\r\n{}";
        assert_eq!(parse_head(&answer[..20]).unwrap(), None);
        let head = parse_head(answer).unwrap().unwrap();
        assert_eq!(
            head,
            Head {
                len: answer.len() - 2,
                reply: Reply {
                    status: 503,
                    retry_after: Some(Duration::from_secs(1)),
                },
                content_length: 2,
                close: false,
            }
        );
        let closing = b"HTTP/1.1 202 Accepted\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert!(parse_head(closing).unwrap().unwrap().close);
    }

    #[test]
    fn what_it_cannot_read_is_an_error_not_a_guess() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: many\r\n\r\n",
            b"SPDY 200\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        ] {
            assert!(parse_head(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    /// Two requests on one connection against a real HTTP server (axum on loopback): each
    /// answer is read whole, body included, and the second finds the connection ready.
    #[tokio::test]
    async fn answers_are_read_whole_on_a_kept_alive_connection() {
        use axum::routing::post as route;
        let app = axum::Router::new().route(
            "/orders",
            route(|body: String| async move {
                (
                    axum::http::StatusCode::ACCEPTED,
                    [("retry-after", "3")],
                    format!("{{\"echo\":{}}}", body.len()),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let mut c = Connection::open(addr).await.unwrap();
        let request = post(&addr.to_string(), "/orders", "Bearer x", b"{\"a\":1}");
        for _ in 0..2 {
            let reply = c.send(&request).await.unwrap();
            assert_eq!(reply.status, 202);
            assert_eq!(reply.retry_after, Some(Duration::from_secs(3)));
            assert!(c.buf.is_empty(), "the body was read to its end");
        }
        server.abort();
    }
}
