//! The HTTP server around the router, with the limits a public service
//! needs:
//! - every connection must send a complete request head within
//!   `header_timeout` of opening, and of its last answer: a socket that
//!   sends nothing, one byte, half an HTTP/2 preface or half a request line
//!   is closed then (HTTP/1 and HTTP/2 alike: the deadline is kept here,
//!   around hyper's protocol detection, not inside it);
//! - at most `max_connections` are open at once and at most
//!   `max_connections_per_client` from one address (an IPv6 /64), so that
//!   one client cannot take every slot (more are closed on arrival; the
//!   file-descriptor limit is raised to hold them);
//! - hyper's own answers to requests it cannot parse (400, 414, 431) carry
//!   the API's JSON error body like every other error;
//! - on SIGTERM or Ctrl-C new connections stop, requests under way finish,
//!   and whatever is still open after `shutdown_deadline` is closed.
//!
//! Each request carries the client's address (`ConnectInfo<SocketAddr>`),
//! for the per-client limits of heavy work.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::bounded::client_key;
use crate::config::Limits;

/// Raises the soft limit of open files to the hard one; the connections
/// that limit allows.
#[allow(unsafe_code)]
fn open_files_allowed() -> usize {
    // SAFETY: getrlimit/setrlimit with a valid, owned struct.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    }
}

/// Open connections per client.
#[derive(Default)]
struct PerClient {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One client's connection slot, given back when dropped.
struct ClientSlot {
    clients: Arc<PerClient>,
    key: IpAddr,
}

impl PerClient {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let key = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            clients: self.clone(),
            key,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.clients.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// What a connection is doing: requests under way, requests seen, and
/// when it was last busy (milliseconds since it opened).
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.last_ms.store(self.now_ms(), Ordering::Release);
        Busy(self.clone())
    }

    /// When the connection falls idle for good if nothing happens: its last
    /// activity plus `timeout`; `None` while a request is under way.
    fn idle_deadline(&self, timeout: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(self.opened + Duration::from_millis(self.last_ms.load(Ordering::Acquire)) + timeout)
    }
}

/// A request under way on a connection.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.last_ms.store(self.0.now_ms(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `app` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    // Files for the store, the data and logs stay available.
    let max = limits
        .max_connections
        .min(open_files_allowed().saturating_sub(256))
        .max(16);
    let per_client_max = limits
        .max_connections_per_client
        .unwrap_or((max / 4).max(16));
    let permits = Arc::new(Semaphore::new(max));
    let clients = Arc::new(PerClient::default());
    let (stop, stopping) = watch::channel(false);
    let open = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(tokio::sync::Notify::new());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, say: wait, do not spin.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!("{max} connections open: one more refused");
            drop(stream);
            continue;
        };
        let Some(slot) = clients.take(peer.ip(), per_client_max) else {
            tracing::warn!(
                "{per_client_max} connections open from {}: one more refused",
                client_key(peer.ip())
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (app, stopping, open, closed) =
            (app.clone(), stopping.clone(), open.clone(), closed.clone());
        open.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            connection(stream, peer, app, limits, stopping).await;
            drop((permit, slot));
            if open.fetch_sub(1, Ordering::AcqRel) == 1 {
                closed.notify_waiters();
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing the requests under way");
    let _ = stop.send(true);
    let all_closed = async {
        loop {
            let notified = closed.notified();
            if open.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    };
    tokio::select! {
        () = all_closed => {}
        () = tokio::time::sleep(limits.shutdown_deadline) => {
            tracing::warn!(
                "shutdown deadline of {:?} reached: closing the connections still open",
                limits.shutdown_deadline
            );
        }
    }
}

/// Serves one connection until it ends, falls idle, or the server stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let busy = activity.begin();
            let answer = app.clone().oneshot(request);
            async move {
                let response = answer.await;
                drop(busy);
                response
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.header_timeout);
    let io = TokioIo::new(JsonParseErrors::new(stream));
    let connection = builder.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut closing: Option<Instant> = None;
    loop {
        let wake = match closing {
            Some(hard) => hard,
            None => activity
                .idle_deadline(limits.header_timeout)
                .unwrap_or_else(|| Instant::now() + limits.header_timeout),
        };
        tokio::select! {
            _ = connection.as_mut() => return,
            () = tokio::time::sleep_until(wake.into()) => {
                if closing.is_some() {
                    // Graceful closing took too long: cut.
                    return;
                }
                let Some(deadline) = activity.idle_deadline(limits.header_timeout) else {
                    continue;
                };
                if Instant::now() < deadline {
                    continue;
                }
                if activity.requests.load(Ordering::Relaxed) == 0 {
                    // Not one complete request head in time (nothing, a
                    // byte, half a preface): nothing to finish, close.
                    return;
                }
                connection.as_mut().graceful_shutdown();
                closing = Some(Instant::now() + limits.shutdown_deadline);
            }
            changed = stopping.changed(), if closing.is_none() => {
                if changed.is_err() || *stopping.borrow() {
                    connection.as_mut().graceful_shutdown();
                    closing = Some(Instant::now() + limits.shutdown_deadline);
                }
            }
        }
    }
}

/// The stream under hyper, turning the bodiless answers hyper writes by
/// itself to requests it cannot parse (a byte that is not allowed in the
/// request line: 400; a request line too long: 414; headers too large: 431)
/// into the API's JSON error shape. hyper offers no hook for those answers:
/// they are recognised as what hyper writes for them (an error status, an
/// empty body, the head alone in one write) — the router's own error
/// answers always carry a JSON body, so none is mistaken for them.
struct JsonParseErrors {
    inner: TcpStream,
    /// Bytes of a replaced answer not yet written.
    pending: Vec<u8>,
}

impl JsonParseErrors {
    fn new(inner: TcpStream) -> Self {
        JsonParseErrors {
            inner,
            pending: Vec::new(),
        }
    }

    /// The JSON answer standing for hyper's bodiless one, if `head` is one.
    fn replacement(head: &[u8]) -> Option<Vec<u8>> {
        let status_line_end = head.windows(2).position(|w| w == b"\r\n")?;
        let status_line = std::str::from_utf8(&head[..status_line_end]).ok()?;
        let rest = status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 "))?;
        let (code, message) = match rest.get(..3)? {
            "400" => (
                "bad_request",
                "la requête est illisible (octet interdit dans la ligne de requête ou en-tête mal formé)",
            ),
            "414" => ("uri_too_long", "l'adresse demandée est trop longue"),
            "431" => (
                "request_header_fields_too_large",
                "les en-têtes de la requête sont trop volumineux",
            ),
            _ => return None,
        };
        let text = String::from_utf8_lossy(head).to_ascii_lowercase();
        if !text.ends_with("\r\n\r\n") || !text.contains("\r\ncontent-length: 0\r\n") {
            return None;
        }
        let body = serde_json::json!({ "error": code, "message": message }).to_string();
        Some(
            format!(
                "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    }

    /// Writes what is pending; ready when nothing is.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    self.pending.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for JsonParseErrors {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for JsonParseErrors {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        if buf.len() < 512
            && buf.first() == Some(&b'H')
            && let Some(answer) = Self::replacement(buf)
        {
            this.pending = answer;
            // Taken whole; written by this call or the next ones.
            let _ = this.poll_pending(cx);
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        let non_empty: Vec<&std::io::IoSlice<'_>> = bufs.iter().filter(|b| !b.is_empty()).collect();
        if let [only] = non_empty[..]
            && only.len() < 512
            && only.first() == Some(&b'H')
            && let Some(answer) = Self::replacement(only)
        {
            this.pending = answer;
            let _ = this.poll_pending(cx);
            return Poll::Ready(Ok(only.len()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_s_bodiless_parse_errors_become_json() {
        let head = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 10:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(JsonParseErrors::replacement(head).unwrap()).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{answer}"
        );
        let body = answer.split("\r\n\r\n").nth(1).unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], "bad_request");
        assert!(answer.contains(&format!("content-length: {}", body.len())));
        // A head with a body of its own, or a success, is left alone.
        assert!(
            JsonParseErrors::replacement(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 80\r\n\r\n")
                .is_none()
        );
        assert!(
            JsonParseErrors::replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none()
        );
    }

    #[test]
    fn clients_are_counted_by_address_and_ipv6_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
        let clients = Arc::new(PerClient::default());
        let one = clients.take(a, 2).unwrap();
        let _two = clients.take(b, 2).unwrap();
        assert!(clients.take(a, 2).is_none());
        drop(one);
        assert!(clients.take(b, 2).is_some());
    }
}
