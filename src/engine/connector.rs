//! What a worker thread's connections share: where and how to connect, the HTTP
//! behaviour the plan asks for, the shared HTTP/2 connections, and the read buffers
//! lent to requests in flight.

use std::cell::RefCell;

use super::connect::Dialer;
use super::h2;
use super::request::{write_redirect, REDIRECTS};
use super::response::Response;
use crate::config::{HttpVersion, Plan, Target};
use crate::metrics::Failure;

/// What connecting needs: where, and how (TLS or not); and the read buffers of the
/// worker's connections.
pub struct Connector {
    pub target: Target,
    /// The target's scheme and authority, parsed once for HTTP/2 requests.
    pub(super) origin: Result<h2::Origin, String>,
    /// Opens connections: TCP, then TLS when the target is https.
    pub dialer: Dialer,
    /// Redirects followed per request (`[target] max_redirects`).
    pub(super) max_redirects: u32,
    /// Whether each user keeps a cookie jar (`[target] cookies`).
    pub(super) cookies: bool,
    /// Whether a connection is kept for the next request (`[target] keep_alive`).
    pub(super) keep_alive: bool,
    /// The most of a body kept (`[target] max_body`).
    pub(super) max_body: usize,
    /// The target may speak HTTP/2: TLS offering it by ALPN, or `http = "2"`.
    pub(super) http2: bool,
    /// HTTP/2 connections this thread's users share (`[target] connections`), each made
    /// on first use (a lock each, so one is made once); empty: one a user.
    pub(super) pool: Vec<tokio::sync::Mutex<Option<h2::Sender>>>,
    /// The pool's connection the next request goes to.
    pub(super) next: std::cell::Cell<usize>,
    /// Between requests a kept-alive connection holds no bytes, so its read buffer goes
    /// back here: only requests in flight hold one (10,000 thinking users do not need
    /// 10,000 buffers).
    pub(super) buffers: RefCell<Vec<Vec<u8>>>,
}

/// A read buffer's starting size; one grown past `KEEP_BUFFER` (a huge response head)
/// is not kept.
const READ_BUFFER: usize = 8192;
const KEEP_BUFFER: usize = 64 * 1024;

impl Connector {
    /// The plan's target, timeouts and HTTP behaviour, for worker `index` of `threads`
    /// (its share of `[target] connections`).
    pub fn new(plan: &Plan, index: usize, threads: usize) -> Connector {
        let pool = plan.connections.map_or(0, |n| {
            let (n, threads) = (n as usize, threads.max(1));
            (n / threads + usize::from(index < n % threads)).max(1)
        });
        Connector {
            pool: (0..pool).map(|_| Default::default()).collect(),
            next: Default::default(),
            target: plan.target.clone(),
            origin: h2::Origin::of(&plan.target),
            dialer: Dialer::new(plan),
            max_redirects: plan.max_redirects,
            cookies: plan.cookies,
            keep_alive: plan.keep_alive,
            max_body: plan.max_body,
            http2: plan.http != HttpVersion::H1
                && !plan.target.absolute_form
                && (plan.target.tls || plan.http == HttpVersion::H2),
            buffers: RefCell::default(),
        }
    }

    pub(super) fn take_buffer(&self) -> Vec<u8> {
        self.buffers
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| vec![0; READ_BUFFER])
    }

    pub(super) fn give_buffer(&self, buf: Vec<u8>) {
        if buf.len() <= KEEP_BUFFER {
            self.buffers.borrow_mut().push(buf);
        }
    }

    pub(super) fn follows(&self, resp: &Response) -> bool {
        self.max_redirects > 0 && resp.location().is_some() && REDIRECTS.contains(&resp.status)
    }

    /// The request that follows `resp`, a redirect answering `sent` after `hops` others.
    /// Out of line: inlined, it kept the exchange from being inlined into the user loop.
    #[inline(never)]
    pub(super) fn redirect(
        &self,
        sent: &[u8],
        resp: &Response,
        hops: u32,
    ) -> Result<Vec<u8>, Failure> {
        let location = resp.location().unwrap_or_default();
        if hops == self.max_redirects {
            let f = format!("more than {hops} redirects (the last to {location})");
            return Err(Failure::Redirect(f));
        }
        let mut next = Vec::new();
        write_redirect(&self.target, sent, resp.status, location, &mut next)?;
        Ok(next)
    }
}
