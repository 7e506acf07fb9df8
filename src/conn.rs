//! `ConnSocket`: a handle on a request's TCP connection that can hang it up.
//!
//! actix-http has no time-out for a response body the peer stops reading, nor for an
//! upgraded WebSocket whose peer never reads: the connection waits on a full send buffer
//! for ever. Every accepted connection records its socket's descriptor and both ends'
//! addresses (in the connection's data), so that a watchdog can shut the socket down; the
//! server's own I/O then fails and the connection, its buffers and its permits are freed.
//!
//! The descriptor is not duplicated (that would double the server's open files). Before a
//! hang-up the descriptor's two addresses are compared with the recorded ones: a closed
//! connection's number may be reused, but not by a connection with the same addresses
//! (TCP keeps a closed address pair out of use for a minute).

use std::any::Any;
use std::mem::ManuallyDrop;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::Arc;

use actix_web::dev::Extensions;
use actix_web::HttpRequest;

pub struct ConnSocket {
    fd: RawFd,
    local: SocketAddr,
    peer: SocketAddr,
}

impl ConnSocket {
    /// For `HttpServer::on_connect`: records every plain TCP connection.
    pub fn on_connect(conn: &dyn Any, data: &mut Extensions) {
        let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() else {
            return;
        };
        if let (Ok(local), Ok(peer)) = (tcp.local_addr(), tcp.peer_addr()) {
            data.insert(Arc::new(ConnSocket {
                fd: tcp.as_raw_fd(),
                local,
                peer,
            }));
        }
    }

    /// The handle of the connection `req` came on, if it has one.
    pub fn of(req: &HttpRequest) -> Option<Arc<ConnSocket>> {
        req.conn_data::<Arc<ConnSocket>>().cloned()
    }

    /// Ends the connection in both directions, if it is still this connection.
    pub fn hang_up(&self) {
        // SAFETY: the stream only borrows the descriptor (ManuallyDrop never closes it);
        // each call below fails harmlessly on a descriptor that is closed.
        let socket = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(self.fd) });
        let same = socket.local_addr().ok() == Some(self.local)
            && socket.peer_addr().ok() == Some(self.peer);
        if same {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}
