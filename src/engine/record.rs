//! What came back, judged and recorded: a step's latency from its due time, its failure
//! if any, soft checks and numbers read, the connection's counts; and the same for a
//! request sent from Rust code.

use std::time::Instant;

use minijinja::Value;

use super::request::{check, extract, grpc_ended, grpc_json, read_metrics, soft_checks};
use super::response::Response;
use super::user::{Sent, User, KEPT_BODY_BYTES};
use super::worker::Worker;
use crate::config::grpc::GrpcMethod;
use crate::config::{PlannedStep, Repeat};
use crate::metrics::{Failure, Recorder};

impl User {
    /// Records a request's outcome: its latency from `start`, its failure if any, soft
    /// checks and numbers read. With `repeat = { until }`, says whether to send it again;
    /// on the `last` send, an `until` still false fails it.
    pub(super) fn record_sent(
        &mut self,
        w: &Worker,
        req: &PlannedStep,
        data: &Value,
        start: Instant,
        last: bool,
        result: Option<(Option<u64>, Result<Response, Failure>)>,
    ) -> Result<Sent, Failure> {
        let latency_us = start.elapsed().as_micros() as u64;
        let mut rec = w.recorder.borrow_mut();
        self.observe(&mut rec, req.endpoint, &result);
        let answered = matches!(result, Some((_, Ok(_))));
        let mut again = false;
        let failure = match result {
            None => Some(Failure::Timeout),
            Some((_, mut r)) => {
                if let Some(m) = req.grpc() {
                    r = grpc_answer(req, m, r, &mut self.body);
                }
                if let Ok(resp) = &r {
                    if !req.checks.is_empty() {
                        soft_checks(req, resp, &self.body, &mut rec);
                    }
                    if !req.metrics.is_empty() {
                        read_metrics(req, resp, &self.body, &mut rec);
                    }
                }
                match r {
                    Err(f) => Some(f),
                    Ok(resp) => match check(req, &resp, &self.body)
                        .and_then(|()| extract(req, &resp, &self.body, &mut self.vars))
                        .and_then(|()| self.until(w, req, data, last))
                    {
                        Ok(more) => {
                            again = more;
                            let ttfb = resp.first_byte.saturating_duration_since(start);
                            rec.success(req.endpoint, latency_us, ttfb.as_micros() as u64);
                            None
                        }
                        Err(f) => Some(f),
                    },
                }
            }
        };
        if let Some(f) = failure {
            return Err(failed(w, &mut rec, req.endpoint, latency_us, answered, f));
        }
        drop(rec);
        w.log_slow(req.endpoint, latency_us);
        Ok(if again { Sent::Again } else { Sent::Done })
    }

    /// Counts what every exchange has: retries, the connection time, the status class
    /// and the body size. A timeout closes the connection.
    #[inline]
    fn observe(
        &mut self,
        rec: &mut Recorder,
        endpoint: usize,
        result: &Option<(Option<u64>, Result<Response, Failure>)>,
    ) {
        let (retries, http2_connects) = self.conn.take_counts();
        if retries + http2_connects > 0 {
            rec.retried(endpoint, retries);
            rec.http2_connected(endpoint, http2_connects);
        }
        match result {
            None => {
                self.conn.close();
                rec.status(endpoint, 0);
            }
            Some((connect, r)) => {
                if let Some(us) = connect {
                    rec.connected(endpoint, *us);
                }
                rec.status(endpoint, r.as_ref().map_or(0, |resp| resp.status));
                if let Ok(resp) = r {
                    rec.received(endpoint, resp.body_bytes);
                }
            }
        }
    }

    /// Records a request sent from Rust code: a status of 400 or more fails it, as
    /// the config's default expectation does; a gRPC call (`grpc`) is judged by its
    /// `grpc-status`, its messages turned into JSON in the body.
    pub(super) fn account(
        &mut self,
        w: &Worker,
        endpoint: usize,
        start: Instant,
        result: Option<(Option<u64>, Result<Response, Failure>)>,
        grpc: Option<&crate::config::grpc::GrpcMethod>,
    ) -> Result<Response, Failure> {
        let latency_us = start.elapsed().as_micros() as u64;
        let mut rec = w.recorder.borrow_mut();
        self.observe(&mut rec, endpoint, &result);
        let (answered, f) = match result {
            None => (false, Failure::Timeout),
            Some((_, Err(f))) => (false, f),
            Some((_, Ok(resp))) => {
                let judged = match grpc {
                    Some(m) => grpc_ended(&resp).and_then(|()| grpc_json(m, &mut self.body)),
                    None if resp.status < 400 => Ok(()),
                    None => Err(Failure::Status(resp.status)),
                };
                match judged {
                    Ok(()) => {
                        let ttfb = resp.first_byte.saturating_duration_since(start);
                        rec.success(endpoint, latency_us, ttfb.as_micros() as u64);
                        drop(rec);
                        w.log_slow(endpoint, latency_us);
                        return Ok(resp);
                    }
                    Err(f) => (true, f),
                }
            }
        };
        Err(failed(w, &mut rec, endpoint, latency_us, answered, f))
    }

    /// A request from Rust code that never went out: counted as failed.
    pub(super) fn unsent(&mut self, w: &Worker, endpoint: usize, f: Failure) -> Failure {
        let f = w.redact(f);
        unsent(w, endpoint, &f);
        f
    }

    /// With `repeat = { until }`: whether to send again (the condition is still false);
    /// on the last send, a false condition fails the request.
    #[inline(always)]
    pub(super) fn until(
        &self,
        w: &Worker,
        req: &PlannedStep,
        data: &Value,
        last: bool,
    ) -> Result<bool, Failure> {
        let Some(Repeat::Until { until, max, .. }) = &req.repeat else {
            return Ok(false);
        };
        match (self.holds(w, until, data)?, last) {
            (true, _) => Ok(false),
            (false, false) => Ok(true),
            (false, true) => Err(Failure::Expect(format!(
                "repeat until {} still false after {max} sends",
                w.plan.templates.source(until)
            ))),
        }
    }
}

/// A gRPC call's answer, its messages turned into JSON in `body` when they are read.
/// Out of line: the HTTP/1.1 path's record stays small enough to inline what it calls.
#[inline(never)]
fn grpc_answer(
    req: &PlannedStep,
    m: &GrpcMethod,
    r: Result<Response, Failure>,
    body: &mut Vec<u8>,
) -> Result<Response, Failure> {
    match r {
        Ok(resp) if req.needs_body() && resp.grpc_status() == Some(0) => {
            grpc_json(m, body).map(|()| resp)
        }
        r => r,
    }
}

/// A failed request, its reason redacted: logged and counted, with its latency when it
/// was answered.
#[inline]
pub(super) fn failed(
    w: &Worker,
    rec: &mut Recorder,
    endpoint: usize,
    latency_us: u64,
    answered: bool,
    f: Failure,
) -> Failure {
    let f = w.redact(f);
    w.log_failure(endpoint, &f);
    if answered {
        rec.failure(endpoint, latency_us, f.clone());
    } else {
        rec.unanswered(endpoint, f.clone());
    }
    f
}

/// A request that never went out (a template, a condition or a feeder failed): logged
/// and counted as failed, without a latency.
pub(super) fn unsent(w: &Worker, endpoint: usize, f: &Failure) {
    w.log_failure(endpoint, f);
    let mut rec = w.recorder.borrow_mut();
    rec.status(endpoint, 0);
    rec.unanswered(endpoint, f.clone());
}

/// Between iterations, a body kept for checks or extraction gives back memory past
/// 64 KiB: 10,000 users each holding the largest body they ever read would hold
/// gigabytes while they think.
pub(super) fn let_go_of_big_body(body: &mut Vec<u8>) {
    body.clear();
    body.shrink_to(KEPT_BODY_BYTES);
}
