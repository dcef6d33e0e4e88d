//! The demo's proof verification as a gRPC service (`perfgate.demo.Proofs` of
//! examples/grpc/proofs.proto), served by `tonic` on the HTTP port: same checks, same
//! knobs (latency, errors as UNAVAILABLE, stalls), counted per method path.

use std::pin::Pin;
use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures_util::Stream;
use tonic::server::{Grpc, ServerStreamingService, UnaryService};
use tonic::Status;
use tonic_prost::ProstCodec;

use super::proofs::{check, check_biometric, Batch, BiometricProof, Proof};

/// The demo's answer to a proof.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Verdict {
    #[prost(bool, tag = "1")]
    pub valid: bool,
    #[prost(string, tag = "2")]
    pub error: String,
}

/// The service's methods as routes (their paths are what knobs and counts use).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/perfgate.demo.Proofs/Verify", post(verify))
        .route(
            "/perfgate.demo.Proofs/VerifyBiometric",
            post(verify_biometric),
        )
        .route("/perfgate.demo.Proofs/VerifyBatch", post(verify_batch))
}

/// A knob's injected failure as gRPC says it: HTTP 200, `grpc-status` 14 in the headers.
pub fn unavailable() -> Response {
    let headers = [
        ("content-type", "application/grpc"),
        ("grpc-status", "14"),
        ("grpc-message", "injected failure (demo knob)"),
    ];
    (axum::http::StatusCode::OK, headers).into_response()
}

pub fn is_grpc(req: &Request) -> bool {
    req.headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

async fn verify(req: Request) -> Response {
    let mut grpc = Grpc::new(ProstCodec::<Verdict, Proof>::default());
    grpc.unary(Unary(check), req)
        .await
        .map(axum::body::Body::new)
}

async fn verify_biometric(req: Request) -> Response {
    let mut grpc = Grpc::new(ProstCodec::<Verdict, BiometricProof>::default());
    grpc.unary(Unary(check_biometric), req)
        .await
        .map(axum::body::Body::new)
}

async fn verify_batch(req: Request) -> Response {
    let mut grpc = Grpc::new(ProstCodec::<Verdict, Batch>::default());
    grpc.server_streaming(VerifyBatch, req)
        .await
        .map(axum::body::Body::new)
}

type Answer<T> = std::future::Ready<Result<tonic::Response<T>, Status>>;

fn answer(r: Result<(), &'static str>) -> Answer<Verdict> {
    std::future::ready(match r {
        Ok(()) => Ok(tonic::Response::new(Verdict {
            valid: true,
            error: String::new(),
        })),
        Err(why) => Err(Status::unauthenticated(why)),
    })
}

/// A unary method: the proof checked by its function.
struct Unary<T>(fn(&T) -> Result<(), &'static str>);

impl<T> UnaryService<T> for Unary<T> {
    type Response = Verdict;
    type Future = Answer<Verdict>;
    fn call(&mut self, r: tonic::Request<T>) -> Self::Future {
        answer((self.0)(r.get_ref()))
    }
}

struct VerifyBatch;

type Verdicts = Pin<Box<dyn Stream<Item = Result<Verdict, Status>> + Send>>;

impl ServerStreamingService<Batch> for VerifyBatch {
    type Response = Verdict;
    type ResponseStream = Verdicts;
    type Future = Answer<Verdicts>;
    fn call(&mut self, r: tonic::Request<Batch>) -> Self::Future {
        let batch = r.into_inner();
        if batch.proofs.is_empty() || batch.proofs.len() > 100 {
            return std::future::ready(Err(Status::invalid_argument("send 1 to 100 proofs")));
        }
        let every = Duration::from_millis(batch.every_ms.into());
        let stream = futures_util::stream::unfold(
            (batch.proofs.into_iter(), true),
            move |(mut proofs, first)| async move {
                let p = proofs.next()?;
                if !first && !every.is_zero() {
                    tokio::time::sleep(every).await;
                }
                let verdict = match check(&p) {
                    Ok(()) => Verdict {
                        valid: true,
                        error: String::new(),
                    },
                    Err(why) => Verdict {
                        valid: false,
                        error: why.into(),
                    },
                };
                Some((Ok(verdict), (proofs, false)))
            },
        );
        std::future::ready(Ok(tonic::Response::new(Box::pin(stream))))
    }
}
