//! The accept loop: each connection is served on its own task, over plain TCP or, for
//! RTMPS, TLS first.

use std::sync::Arc;

use tokio::net::TcpListener;

use super::{session, RtmpContext};

/// Accepts publishers until the listener fails.
pub async fn serve(listener: TcpListener, ctx: Arc<RtmpContext>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(session::serve(stream, peer, Arc::clone(&ctx)));
            }
            Err(e) => {
                // Out of file descriptors, say: wait a little instead of spinning.
                log::warn!("rtmp: accepting a connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}
