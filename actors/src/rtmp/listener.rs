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

/// A TLS handshake must be done within this long.
const TLS_HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(10);

/// Accepts RTMPS publishers: TLS first, then the same session as plain RTMP.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    ctx: Arc<RtmpContext>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let (acceptor, ctx) = (acceptor.clone(), Arc::clone(&ctx));
                tokio::spawn(async move {
                    match tokio::time::timeout(TLS_HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => session::serve(tls, peer, ctx).await,
                        _ => {
                            log::info!("rtmps {peer}: TLS handshake failed");
                            ctx.metrics
                                .refused
                                .with_label_values(&[super::Refused::Malformed.label()])
                                .inc();
                        }
                    }
                });
            }
            Err(e) => {
                log::warn!("rtmps: accepting a connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// The TLS settings of an RTMPS listener from PEM files: the certificate chain and its
/// private key.
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("reading the certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("reading the private key {}: {e}", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
