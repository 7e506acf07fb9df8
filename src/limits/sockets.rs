//! `SocketsPerAddr`: WebSockets (danmaku and video) open at once per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct SocketsPerAddr {
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One open socket's place; given back when the socket's actor drops it.
pub struct SocketSlot {
    addr: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl SocketsPerAddr {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            open: Arc::default(),
        }
    }

    /// A place for one more socket from `addr`, or `None` when it has `max` open.
    pub fn try_open(&self, addr: IpAddr) -> Option<SocketSlot> {
        let mut open = self.open.lock().expect("sockets lock");
        let n = open.entry(addr).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(SocketSlot {
            addr,
            open: Arc::clone(&self.open),
        })
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("sockets lock");
        if let Some(n) = open.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_places_back_when_its_sockets_close() {
        let caps = SocketsPerAddr::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = caps.try_open(a).unwrap();
        let _second = caps.try_open(a).unwrap();
        assert!(caps.try_open(a).is_none());
        assert!(caps.try_open("192.0.2.2".parse().unwrap()).is_some());
        drop(first);
        assert!(caps.try_open(a).is_some());
    }
}
