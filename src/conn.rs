//! `ConnSocket`: a handle on a request's TCP connection that can hang it up.
//!
//! actix-http has no time-out for a response body the peer stops reading, nor for an
//! upgraded WebSocket whose peer never reads: the connection waits on a full send buffer
//! for ever. Every accepted connection gets a duplicate of its socket's descriptor (in the
//! connection's data), so that a watchdog can shut the socket down; the server's own I/O
//! then fails and the connection, its buffers and its permits are freed.

use std::any::Any;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::Arc;

use actix_web::dev::Extensions;
use actix_web::HttpRequest;

pub struct ConnSocket(std::net::TcpStream);

impl ConnSocket {
    /// For `HttpServer::on_connect`: records a handle on every plain TCP connection.
    pub fn on_connect(conn: &dyn Any, data: &mut Extensions) {
        let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() else {
            return;
        };
        match tcp.as_fd().try_clone_to_owned() {
            Ok(fd) => {
                data.insert(Arc::new(ConnSocket(std::net::TcpStream::from(fd))));
            }
            Err(e) => log::warn!("duplicating a connection's socket: {e}"),
        }
    }

    /// The handle of the connection `req` came on, if it has one.
    pub fn of(req: &HttpRequest) -> Option<Arc<ConnSocket>> {
        req.conn_data::<Arc<ConnSocket>>().cloned()
    }

    /// Ends the connection in both directions (harmless if it has ended already).
    pub fn hang_up(&self) {
        let _ = self.0.shutdown(Shutdown::Both);
    }
}
