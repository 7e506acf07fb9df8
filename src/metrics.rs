//! Prometheus metrics: requests by route and status, and a latency histogram.
//!
//! The route label is the matched pattern (`/videos/{id}`), never the raw path, so the
//! number of series stays bounded whatever clients request.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::{ready, Ready};
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Method;
use futures_util::future::LocalBoxFuture;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
};

/// The node's metric registry and the HTTP metrics in it.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "roomcast_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "roomcast_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("unique metric");
        registry
            .register(Box::new(latency.clone()))
            .expect("unique metric");
        Self {
            registry,
            requests,
            latency,
        }
    }

    /// The registry, for other parts of the server to add their own metrics.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding never fails");
        String::from_utf8(out).expect("the text format is UTF-8")
    }

    fn handles(&self, method: &str, route: &str, status: u16) -> RouteHandles {
        RouteHandles {
            requests: self
                .requests
                .with_label_values(&[method, route, status_label(status)]),
            latency: self.latency.with_label_values(&[method, route]),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The method as a label from a closed set: clients can send any token as a method, and
/// each new one would otherwise add series for good.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        206 => "206",
        301 => "301",
        302 => "302",
        303 => "303",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        409 => "409",
        413 => "413",
        415 => "415",
        416 => "416",
        422 => "422",
        429 => "429",
        500 => "500",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

/// The metric children of one (method, route, status); looked up once per worker.
struct RouteHandles {
    requests: IntCounter,
    latency: Histogram,
}

impl RouteHandles {
    fn record(&self, seconds: f64) {
        self.requests.inc();
        self.latency.observe(seconds);
    }
}

/// Per-worker map from (method, status) and route to its handles, so that a request costs
/// two small map lookups instead of the registry's locked label lookups.
type HandleCache = Rc<RefCell<HashMap<(&'static str, u16), HashMap<String, RouteHandles>>>>;

/// Middleware that records every request in `Metrics`.
pub struct RecordMetrics(pub Metrics);

impl<S, B> Transform<S, ServiceRequest> for RecordMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RecordMetricsMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RecordMetricsMiddleware {
            service,
            metrics: self.0.clone(),
            cache: HandleCache::default(),
        }))
    }
}

pub struct RecordMetricsMiddleware<S> {
    service: S,
    metrics: Metrics,
    cache: HandleCache,
}

impl<S, B> Service<ServiceRequest> for RecordMetricsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let method = method_label(req.method());
        let metrics = self.metrics.clone();
        let cache = Rc::clone(&self.cache);
        let fut = self.service.call(req);
        Box::pin(async move {
            let res = fut.await?;
            let route = res.request().match_pattern();
            let route = route.as_deref().unwrap_or("unmatched");
            let status = res.status().as_u16();
            let seconds = started.elapsed().as_secs_f64();
            let mut cache = cache.borrow_mut();
            let by_route = cache.entry((method, status)).or_default();
            match by_route.get(route) {
                Some(h) => h.record(seconds),
                None => {
                    let h = metrics.handles(method, route, status);
                    h.record(seconds);
                    by_route.insert(route.to_string(), h);
                }
            }
            drop(cache);
            Ok(res)
        })
    }
}
