//! JSON-RPC 1.0 as Open vSwitch speaks it (`lib/jsonrpc.c`, RFC 7047 §4):
//! JSON objects sent back to back on a stream socket with no delimiter.
//!
//! [`FrameDecoder`] cuts the byte stream into messages incrementally: it
//! scans each byte once for the end of the top-level object (tracking
//! strings, escapes and nesting), so a message that arrives in many reads
//! costs one pass, then hands the complete object to `serde_json`. Anything
//! that is not a JSON object, or an object over the size limit, is an error
//! and the connection is useless afterwards (as in OVS, which drops it).

use crate::datum::short;
use crate::{Error, Remote};
use nix::errno::Errno;
use nix::sys::socket::{send, MsgFlags};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest message accepted by default. A monitor reply carries a whole
/// database; Open_vSwitch databases are far below this.
pub const DEFAULT_MAX_MESSAGE: usize = 64 << 20;

/// One JSON-RPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A request: the peer expects a reply with the same `id`.
    Request {
        /// Method name.
        method: String,
        /// Parameters (an array).
        params: Value,
        /// Request id (any JSON value but null).
        id: Value,
    },
    /// A notification: a request without id, never answered.
    Notification {
        /// Method name.
        method: String,
        /// Parameters (an array).
        params: Value,
    },
    /// A successful reply.
    Reply {
        /// The result.
        result: Value,
        /// The id of the request answered.
        id: Value,
    },
    /// An error reply.
    Error {
        /// The error (OVSDB: an object with `error` and `details`; unixctl:
        /// a string).
        error: Value,
        /// The id of the request answered.
        id: Value,
    },
}

impl Message {
    /// Classifies a JSON object as `lib/jsonrpc.c` does: `method` makes a
    /// request (a notification when `id` is null or absent); otherwise a
    /// non-null `error` makes an error reply, and `result` a reply.
    pub fn from_json(v: Value) -> Result<Message, String> {
        let Value::Object(mut obj) = v else {
            return Err(format!("message is not a JSON object: {}", short(&v)));
        };
        let id = obj.remove("id").unwrap_or(Value::Null);
        if let Some(method) = obj.remove("method") {
            let Value::String(method) = method else {
                return Err(format!("method is not a string: {}", short(&method)));
            };
            let params = obj.remove("params").unwrap_or(Value::Null);
            if !params.is_array() {
                return Err(format!(
                    "{method}: params is not an array: {}",
                    short(&params)
                ));
            }
            return Ok(if id.is_null() {
                Message::Notification { method, params }
            } else {
                Message::Request { method, params, id }
            });
        }
        if id.is_null() {
            return Err("reply without id".into());
        }
        match obj.remove("error") {
            Some(error) if !error.is_null() => Ok(Message::Error { error, id }),
            _ => match obj.remove("result") {
                Some(result) => Ok(Message::Reply { result, id }),
                None => Err("message has neither method, result nor error".into()),
            },
        }
    }

    /// The JSON form, as `lib/jsonrpc.c` writes it.
    pub fn to_json(&self) -> Value {
        match self {
            Message::Request { method, params, id } => {
                json!({"method": method, "params": params, "id": id})
            }
            Message::Notification { method, params } => {
                json!({"method": method, "params": params, "id": null})
            }
            Message::Reply { result, id } => json!({"result": result, "error": null, "id": id}),
            Message::Error { error, id } => json!({"result": null, "error": error, "id": id}),
        }
    }

    /// The serialized bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing a Value cannot fail (its keys are strings).
        serde_json::to_vec(&self.to_json()).unwrap_or_default()
    }
}

/// Why the byte stream cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub String);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Incremental splitter of a byte stream into JSON objects.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Next byte of `buf` to scan.
    scan: usize,
    /// Nesting depth inside the current object (0: between messages).
    depth: usize,
    in_string: bool,
    escape: bool,
    max: usize,
    failed: Option<FrameError>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_MESSAGE)
    }
}

impl FrameDecoder {
    /// A decoder refusing messages longer than `max` bytes.
    pub fn new(max: usize) -> FrameDecoder {
        FrameDecoder {
            buf: Vec::new(),
            scan: 0,
            depth: 0,
            in_string: false,
            escape: false,
            max,
            failed: None,
        }
    }

    /// Appends bytes read from the stream.
    pub fn feed(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes held that are not yet part of a returned message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    /// After an error every call returns it again.
    pub fn next_value(&mut self) -> Result<Option<Value>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.scan_next();
        if let Err(e) = &result {
            self.failed = Some(e.clone());
            self.buf = Vec::new();
        }
        result
    }

    fn scan_next(&mut self) -> Result<Option<Value>, FrameError> {
        while self.scan < self.buf.len() {
            let b = self.buf[self.scan];
            self.scan += 1;
            if self.depth == 0 {
                match b {
                    b' ' | b'\t' | b'\n' | b'\r' => continue,
                    b'{' => {
                        // Drop the whitespace before the message.
                        self.buf.drain(..self.scan - 1);
                        self.scan = 1;
                        self.depth = 1;
                    }
                    _ => {
                        let end = self.buf.len().min(self.scan - 1 + 40);
                        return Err(FrameError(format!(
                            "expected a JSON object, got {:?}",
                            String::from_utf8_lossy(&self.buf[self.scan - 1..end])
                        )));
                    }
                }
            } else if self.in_string {
                if self.escape {
                    self.escape = false;
                } else if b == b'\\' {
                    self.escape = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            let end = self.scan;
                            let parsed = serde_json::from_slice::<Value>(&self.buf[..end]);
                            self.buf.drain(..end);
                            self.scan = 0;
                            return parsed
                                .map(Some)
                                .map_err(|e| FrameError(format!("invalid JSON: {e}")));
                        }
                    }
                    _ => {}
                }
            }
            if self.depth > 0 && self.scan > self.max {
                return Err(FrameError(format!(
                    "message longer than {} bytes",
                    self.max
                )));
            }
        }
        if self.depth == 0 {
            // Only whitespace so far.
            self.buf.clear();
            self.scan = 0;
        }
        Ok(None)
    }
}

/// A connected stream socket, Unix or TCP.
#[derive(Debug)]
pub enum Stream {
    /// `unix:PATH`.
    Unix(UnixStream),
    /// `tcp:HOST:PORT`.
    Tcp(TcpStream),
}

impl Stream {
    /// Connects to `remote`, waiting at most `timeout` for a TCP handshake
    /// per address. (A Unix connect does not wait: it succeeds into the
    /// listen backlog or fails at once.)
    pub fn connect(remote: &Remote, timeout: Duration) -> io::Result<Stream> {
        match remote {
            Remote::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
            Remote::Tcp(addr) => {
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                for a in addr.to_socket_addrs()? {
                    match TcpStream::connect_timeout(&a, timeout) {
                        Ok(s) => {
                            // Requests are small and latency matters.
                            s.set_nodelay(true)?;
                            return Ok(Stream::Tcp(s));
                        }
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
        }
    }

    /// Another handle on the same socket.
    pub fn try_clone(&self) -> io::Result<Stream> {
        match self {
            Stream::Unix(s) => s.try_clone().map(Stream::Unix),
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
        }
    }

    /// Timeout of each read.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(t),
            Stream::Tcp(s) => s.set_read_timeout(t),
        }
    }

    /// Timeout of each write.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_write_timeout(t),
            Stream::Tcp(s) => s.set_write_timeout(t),
        }
    }

    /// Shuts both directions down: a reader blocked on another handle
    /// returns at once.
    pub fn shutdown(&self) {
        let _ = match self {
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    /// `send(MSG_NOSIGNAL)`: writing to a peer that is gone returns EPIPE
    /// instead of raising SIGPIPE, which would kill a host program that
    /// does not ignore it.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let fd = match self {
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tcp(s) => s.as_raw_fd(),
        };
        loop {
            match send(fd, buf, MsgFlags::MSG_NOSIGNAL) {
                Err(Errno::EINTR) => continue,
                r => return r.map_err(io::Error::from),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The sending side of a [`Connection`], shareable between threads: each
/// message is written whole under a lock.
#[derive(Debug, Clone)]
pub struct Sender {
    stream: Arc<Mutex<Stream>>,
    /// To shut the socket down without the lock, which a writer blocked in
    /// write() holds.
    control: Arc<Stream>,
    remote: Arc<str>,
}

impl Sender {
    /// Writes one message.
    pub fn send(&self, msg: &Message) -> Result<(), Error> {
        let bytes = msg.to_bytes();
        self.stream
            .lock()
            .write_all(&bytes)
            .map_err(|e| Error::io(&self.remote, "send", e))
    }

    /// Closes the socket (both directions).
    pub fn shutdown(&self) {
        self.control.shutdown();
    }

    /// The remote this sends to.
    pub fn remote(&self) -> &str {
        &self.remote
    }
}

/// A JSON-RPC connection: a reader that decodes messages and a [`Sender`].
#[derive(Debug)]
pub struct Connection {
    reader: Stream,
    /// Kept to shut the socket down without the sender's lock.
    control: Stream,
    sender: Sender,
    decoder: FrameDecoder,
    next_id: u64,
    backlog: VecDeque<Message>,
}

impl Connection {
    /// Connects to `remote`; writes time out after `timeout`.
    pub fn open(remote: &Remote, timeout: Duration) -> Result<Connection, Error> {
        let stream =
            Stream::connect(remote, timeout).map_err(|e| Error::io(remote, "connect", e))?;
        Connection::new(stream, &remote.to_string(), timeout)
    }

    /// Wraps a connected stream; `name` is used in errors.
    pub fn new(stream: Stream, name: &str, write_timeout: Duration) -> Result<Connection, Error> {
        let io = |e| Error::io(name, "socket setup", e);
        stream.set_write_timeout(Some(write_timeout)).map_err(io)?;
        let reader = stream.try_clone().map_err(io)?;
        let control = stream.try_clone().map_err(io)?;
        Ok(Connection {
            reader,
            control,
            sender: Sender {
                control: Arc::new(stream.try_clone().map_err(io)?),
                stream: Arc::new(Mutex::new(stream)),
                remote: name.into(),
            },
            decoder: FrameDecoder::default(),
            next_id: 0,
            backlog: VecDeque::new(),
        })
    }

    /// The remote's name.
    pub fn remote(&self) -> &str {
        self.sender.remote()
    }

    /// A handle to send on this connection from other threads.
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    /// Shuts the socket down; a thread blocked reading returns.
    pub fn shutdown(&self) {
        self.control.shutdown();
    }

    /// A handle on the socket to shut it down from another thread.
    pub fn control(&self) -> Result<Stream, Error> {
        self.control
            .try_clone()
            .map_err(|e| Error::io(self.remote(), "socket setup", e))
    }

    /// Sends a message.
    pub fn send(&self, msg: &Message) -> Result<(), Error> {
        self.sender.send(msg)
    }

    /// A fresh request id.
    pub fn next_id(&mut self) -> Value {
        self.next_id += 1;
        json!(self.next_id)
    }

    /// Receives the next message, waiting until `deadline` (for ever when
    /// `None`). A timeout is [`Error::Timeout`] with `method` "receive";
    /// end of stream is [`Error::Disconnected`].
    pub fn recv(&mut self, deadline: Option<Instant>) -> Result<Message, Error> {
        if let Some(m) = self.backlog.pop_front() {
            return Ok(m);
        }
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.decoder.next_value() {
                Ok(Some(v)) => {
                    return Message::from_json(v).map_err(|e| Error::protocol(self.remote(), e))
                }
                Ok(None) => {}
                Err(e) => return Err(Error::protocol(self.remote(), e.0)),
            }
            let timeout = match deadline {
                None => None,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(self.timeout("receive", Duration::ZERO));
                    }
                    Some(d - now)
                }
            };
            self.reader
                .set_read_timeout(timeout)
                .map_err(|e| Error::io(self.remote(), "receive", e))?;
            match self.reader.read(&mut buf) {
                Ok(0) => {
                    return Err(Error::Disconnected {
                        remote: self.remote().into(),
                        method: "receive".into(),
                    })
                }
                Ok(n) => self.decoder.feed(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(self.timeout("receive", timeout.unwrap_or_default()))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(self.remote(), "receive", e)),
            }
        }
    }

    fn timeout(&self, method: &str, after: Duration) -> Error {
        Error::Timeout {
            remote: self.remote().into(),
            method: method.into(),
            after,
            detail: String::new(),
        }
    }

    /// Sends a request and waits up to `timeout` for its reply, answering
    /// the peer's echo requests meanwhile; other messages are kept for
    /// [`recv`](Self::recv). An error reply is [`Error::Remote`].
    pub fn request(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, Error> {
        let id = self.next_id();
        self.send(&Message::Request {
            method: method.into(),
            params,
            id: id.clone(),
        })?;
        let deadline = Instant::now() + timeout;
        let mut held = Vec::new();
        let result = loop {
            let msg = match self.recv_fresh(Some(deadline)) {
                Ok(m) => m,
                Err(Error::Timeout { remote, detail, .. }) => {
                    break Err(Error::Timeout {
                        remote,
                        method: method.into(),
                        after: timeout,
                        detail,
                    })
                }
                Err(Error::Disconnected { remote, .. }) => {
                    break Err(Error::Disconnected {
                        remote,
                        method: method.into(),
                    })
                }
                Err(e) => break Err(e),
            };
            match msg {
                Message::Reply { result, id: rid } if rid == id => break Ok(result),
                Message::Error { error, id: rid } if rid == id => {
                    break Err(Error::Remote {
                        remote: self.remote().into(),
                        method: method.into(),
                        text: error_text(&error),
                    })
                }
                Message::Request {
                    method: m,
                    params,
                    id: rid,
                } if m == "echo" => self.send(&Message::Reply {
                    result: params,
                    id: rid,
                })?,
                other => held.push(other),
            }
        };
        self.backlog.extend(held);
        result
    }

    /// Like `recv` but skipping the backlog (which `request` refills).
    fn recv_fresh(&mut self, deadline: Option<Instant>) -> Result<Message, Error> {
        let backlog = std::mem::take(&mut self.backlog);
        let r = self.recv(deadline);
        self.backlog = backlog;
        r
    }
}

/// An error value as text: a string as is (unixctl), an OVSDB error object
/// as "error: details".
pub fn error_text(error: &Value) -> String {
    match error {
        Value::String(s) => s.clone(),
        Value::Object(o) => {
            let tag = o.get("error").and_then(Value::as_str).unwrap_or("error");
            match o.get("details").and_then(Value::as_str) {
                Some(d) if !d.is_empty() => format!("{tag}: {d}"),
                _ => tag.to_string(),
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(d: &mut FrameDecoder) -> Result<Vec<Value>, FrameError> {
        let mut out = Vec::new();
        while let Some(v) = d.next_value()? {
            out.push(v);
        }
        Ok(out)
    }

    #[test]
    fn split_at_every_byte() {
        let msgs = [
            json!({"method": "echo", "params": [], "id": "echo"}),
            json!({"id": 1, "result": [{"rows": [{"name": "a}\"]{\\"}]}], "error": null}),
            json!({"method": "update", "params": [null, {"T": {}}], "id": null}),
        ];
        let mut text = Vec::new();
        for m in &msgs {
            text.extend_from_slice(b" \n");
            text.extend_from_slice(&serde_json::to_vec(m).unwrap());
        }
        text.extend_from_slice(b"\n");
        for cut in 0..=text.len() {
            let mut d = FrameDecoder::default();
            d.feed(&text[..cut]);
            let mut got = all(&mut d).unwrap();
            d.feed(&text[cut..]);
            got.extend(all(&mut d).unwrap());
            assert_eq!(got, msgs, "cut at {cut}");
            assert_eq!(d.buffered(), 0);
        }
        // One byte at a time.
        let mut d = FrameDecoder::default();
        let mut got = Vec::new();
        for b in &text {
            d.feed(std::slice::from_ref(b));
            got.extend(all(&mut d).unwrap());
        }
        assert_eq!(got, msgs);
    }

    #[test]
    fn garbage_and_limits() {
        for bad in [
            &b"hello"[..],
            b"[1]",
            b"{\"a\":}",
            b"{]",
            b"\"x\"",
            b"{\"a\":1}}",
        ] {
            let mut d = FrameDecoder::default();
            d.feed(bad);
            let r = all(&mut d);
            assert!(r.is_err(), "{:?} accepted", String::from_utf8_lossy(bad));
            // Poisoned.
            d.feed(b"{}");
            assert!(d.next_value().is_err());
        }
        let mut d = FrameDecoder::new(10);
        d.feed(b"{\"a\":\"012");
        assert_eq!(d.next_value(), Ok(None));
        d.feed(b"3456789\"");
        assert!(d.next_value().unwrap_err().0.contains("longer than 10"));
        let mut d = FrameDecoder::new(10);
        d.feed(b"{\"a\":12}    {\"b\":3}");
        assert_eq!(all(&mut d).unwrap().len(), 2);
    }

    #[test]
    fn messages() {
        let cases = [
            Message::Request {
                method: "transact".into(),
                params: json!(["db"]),
                id: json!(3),
            },
            Message::Notification {
                method: "update".into(),
                params: json!([null, {}]),
            },
            Message::Reply {
                result: json!(null),
                id: json!("echo"),
            },
            Message::Error {
                error: json!({"error": "unknown database"}),
                id: json!(1),
            },
        ];
        for m in cases {
            assert_eq!(Message::from_json(m.to_json()).unwrap(), m);
        }
        for bad in [
            json!([]),
            json!({"method": 1, "params": []}),
            json!({"method": "x", "params": {}}),
            json!({"result": 1}),
            json!({"id": 1}),
        ] {
            assert!(Message::from_json(bad.clone()).is_err(), "{bad}");
        }
        assert_eq!(
            error_text(&json!({"error": "syntax error", "details": "bad"})),
            "syntax error: bad"
        );
        assert_eq!(error_text(&json!("no such command")), "no such command");
    }
}
