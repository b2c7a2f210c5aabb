//! A small pool of transaction sockets per protocol, so short requests do
//! not pay for creating a socket (four system calls) each time.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use parking_lot::Mutex;

use super::socket::Socket;

/// Sockets kept per protocol; more are closed when returned.
const MAX_IDLE: usize = 16;

fn pools() -> &'static Mutex<HashMap<i32, Vec<Socket>>> {
    static POOLS: OnceLock<Mutex<HashMap<i32, Vec<Socket>>>> = OnceLock::new();
    POOLS.get_or_init(Default::default)
}

/// A socket borrowed from the pool; it goes back when dropped.
pub struct PooledSocket {
    sock: Option<Socket>,
}

/// A socket of `protocol` from the pool, or a new one.
pub fn pooled(protocol: i32) -> io::Result<PooledSocket> {
    let idle = pools().lock().get_mut(&protocol).and_then(Vec::pop);
    let sock = match idle {
        Some(s) => s,
        None => Socket::new(protocol)?,
    };
    Ok(PooledSocket { sock: Some(sock) })
}

impl PooledSocket {
    /// Takes the socket out of the pool for good.
    pub fn into_inner(mut self) -> Socket {
        self.sock.take().expect("present until dropped")
    }
}

impl Deref for PooledSocket {
    type Target = Socket;
    fn deref(&self) -> &Socket {
        self.sock.as_ref().expect("present until dropped")
    }
}

impl DerefMut for PooledSocket {
    fn deref_mut(&mut self) -> &mut Socket {
        self.sock.as_mut().expect("present until dropped")
    }
}

impl Drop for PooledSocket {
    fn drop(&mut self) {
        if let Some(sock) = self.sock.take() {
            let mut pools = pools().lock();
            let idle = pools.entry(sock.protocol()).or_default();
            if idle.len() < MAX_IDLE {
                idle.push(sock);
            }
        }
    }
}

impl fmt::Debug for PooledSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PooledSocket").field(&self.sock).finish()
    }
}
