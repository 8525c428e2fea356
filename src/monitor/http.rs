//! The monitoring endpoint (`monitoring.metrics_listen`): `GET /metrics`, `/healthz` and
//! `/readyz`, HTTP/1.1 through hyper (already in the tree for the HTTP clients), one small task
//! per connection, nothing else served. Loopback is the default address; it answers only GETs
//! and reads nothing from the request but its path.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{Health, MonitorError, liveness, metrics, readiness};
use crate::engine::EngineHandle;

/// Binds the monitoring address (before the engine reports ready, so a taken port is an error
/// at start, not a silent absence).
pub async fn bind(address: SocketAddr) -> Result<TcpListener, MonitorError> {
    TcpListener::bind(address).await.map_err(|source| MonitorError::Listen { address: address.to_string(), source })
}

/// Serves until `shutdown`.
pub async fn serve(listener: TcpListener, engine: EngineHandle, shutdown: CancellationToken) {
    if let Ok(address) = listener.local_addr() {
        info!(%address, "metrics and health endpoint listening (/metrics, /healthz, /readyz)");
    }
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(%error, "metrics endpoint: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let (engine, shutdown) = (engine.clone(), shutdown.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let engine = engine.clone();
                async move { Ok::<_, Infallible>(answer(&engine, &request).await) }
            });
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                () = shutdown.cancelled() => {}
                served = connection => if let Err(error) = served {
                    debug!(%peer, %error, "metrics endpoint: connection ended with an error");
                },
            }
        });
    }
}

async fn answer(engine: &EngineHandle, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    match request.uri().path() {
        "/metrics" => match metrics::render(engine).await {
            Ok(text) => respond(StatusCode::OK, metrics::CONTENT_TYPE, text),
            Err(error) => {
                warn!(%error, "metrics: scrape failed");
                plain(StatusCode::INTERNAL_SERVER_ERROR, &format!("{error}\n"))
            }
        },
        "/healthz" => health(liveness(engine)),
        "/readyz" => health(readiness(engine)),
        _ => plain(StatusCode::NOT_FOUND, "try /metrics, /healthz or /readyz\n"),
    }
}

fn health(health: Health) -> Response<Full<Bytes>> {
    let status = if health.ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    respond(status, "application/json", format!("{}\n", health.body))
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    respond(status, "text/plain; charset=utf-8", text.to_owned())
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    response
}
