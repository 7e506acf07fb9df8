//! Security headers on every response.

use actix_web::middleware::DefaultHeaders;

/// Everything from this origin only (CSP 3 lets `'self'` cover same-origin WebSocket
/// connections for the live rooms), images and media also from `data:`/`blob:` (MSE
/// players), no plugins, no framing. `frame-ancestors` replaces the legacy X-Frame-Options.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
    media-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; \
    frame-ancestors 'none'";

pub fn headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
}
