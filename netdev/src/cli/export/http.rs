//! The HTTP side of `netdev export`: hyper's HTTP/1 server on a
//! single-threaded tokio runtime, one task per connection, scrapes on a
//! blocking thread.
//!
//! Robustness comes from hyper's parser and these limits: a request head
//! must arrive within [`HEADER_TIMEOUT`] and fit in [`MAX_HEAD_BYTES`]
//! (else 431, or the connection is closed), at most `max_connections`
//! connections are served at once (more are closed as they come), and a
//! connection lives at most [`CONNECTION_LIFETIME`], so a client that
//! stops reading its answer holds one task and one shared answer, never
//! the other scrapers. Scrapes that arrive while one runs share the next
//! answer instead of queueing one scrape each.

use std::convert::Infallible;
use std::io;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use log::{debug, warn};
use tokio::sync::Semaphore;

use super::collect::Collector;
use super::expose::Format;

/// How long a client may take to send a request head.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The most a request head may take (hyper's smallest buffer).
pub(crate) const MAX_HEAD_BYTES: usize = 8192;
/// How long one connection is kept, keep-alive or not.
pub(crate) const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);

const INDEX: &str = "<html><head><title>netdev exporter</title></head><body>\
<h1>netdev exporter</h1><p><a href=\"/metrics\">Metrics</a></p></body></html>\n";

/// The last answer in each format, with when its scrape started.
#[derive(Debug, Default)]
struct Answers {
    last: [Option<(Instant, Bytes)>; 2],
}

#[derive(Debug)]
struct Shared {
    collector: Mutex<(Collector, Answers)>,
}

impl Shared {
    /// An answer in `format` no older than `arrived`: the last one if its
    /// scrape started since, else a new scrape.
    fn answer(&self, format: Format, arrived: Instant) -> netdev::Result<Bytes> {
        // A scrape never panics while holding the lock; if one did, the
        // state is still a valid (if stale) device set.
        let mut guard = self.collector.lock().unwrap_or_else(|e| e.into_inner());
        let (collector, answers) = &mut *guard;
        let slot = &mut answers.last[format as usize];
        if let Some((started, body)) = slot {
            if *started >= arrived {
                return Ok(body.clone());
            }
        }
        let started = Instant::now();
        let body = Bytes::from(collector.scrape(format)?);
        *slot = Some((started, body.clone()));
        Ok(body)
    }
}

fn response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    response(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(body.as_bytes()),
    )
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let arrived = Instant::now();
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(r);
    }
    match req.uri().path() {
        "/" => Ok(response(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Bytes::from_static(INDEX.as_bytes()),
        )),
        "/metrics" => {
            let accept = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
            let format = Format::negotiate(accept);
            let answer = tokio::task::spawn_blocking(move || shared.answer(format, arrived)).await;
            Ok(match answer {
                Ok(Ok(body)) => response(StatusCode::OK, format.content_type(), body),
                Ok(Err(e)) => {
                    warn!("scrape: {e}");
                    response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "text/plain; charset=utf-8",
                        Bytes::from(format!("scrape failed: {e}\n")),
                    )
                }
                Err(e) => {
                    warn!("scrape: {e}");
                    text(StatusCode::INTERNAL_SERVER_ERROR, "scrape failed\n")
                }
            })
        }
        _ => Ok(text(StatusCode::NOT_FOUND, "not found: try /metrics\n")),
    }
}

/// Serves `/metrics` from `collector` on `listener` until the process
/// ends. Fails only if the runtime cannot start.
pub(crate) fn serve(
    listener: TcpListener,
    collector: Collector,
    max_connections: u32,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let shared = Arc::new(Shared {
        collector: Mutex::new((collector, Answers::default())),
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Scrapes take turns on the collector anyway.
        .max_blocking_threads(2)
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let slots = Arc::new(Semaphore::new(max_connections as usize));
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors, say: the listener stays, and
                    // connections that end free some.
                    warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                debug!("{peer}: over {max_connections} connections, closed");
                drop(stream);
                continue;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let service = service_fn(move |req| handle(req, shared.clone()));
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .max_buf_size(MAX_HEAD_BYTES)
                    .serve_connection(TokioIo::new(stream), service);
                match tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => debug!("{peer}: {e}"),
                    Err(_) => debug!("{peer}: connection closed after {CONNECTION_LIFETIME:?}"),
                }
            });
        }
    })
}
