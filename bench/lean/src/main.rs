//! `lean-loop ADDR CONNECTIONS SECONDS`: keep-alive GET / on each connection, one
//! request at a time, for SECONDS; one epoll loop (mio) on one thread, httparse for the
//! response head, one HdrHistogram for latency. Prints `requests N p50 US p99 US`.
//! A yardstick for bench/compare.sh, not a load tester: it stops at the first error.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lean-loop\r\n\r\n";

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    len: usize,
    sent: Instant,
}

impl Conn {
    fn send(&mut self, now: Instant) {
        self.len = 0;
        self.sent = now;
        self.stream.write_all(REQUEST).expect("write");
    }

    /// Reads until the response is whole (true) or the socket has nothing more (false).
    fn read_response(&mut self) -> bool {
        loop {
            match self.stream.read(&mut self.buf[self.len..]) {
                Ok(0) => panic!("the server closed the connection"),
                Ok(n) => self.len += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(e) => panic!("read: {e}"),
            }
            if self.whole() {
                return true;
            }
        }
    }

    fn whole(&self) -> bool {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(head) = resp.parse(&self.buf[..self.len]).expect("parse")
        else {
            return false;
        };
        let body: usize = resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
            .expect("content-length");
        self.len >= head + body
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, conns, secs] = &args[..] else {
        panic!("usage: lean-loop ADDR CONNECTIONS SECONDS");
    };
    let addr = addr.parse().expect("ADDR, e.g. 127.0.0.1:8080");
    let (conns, secs): (usize, u64) = (conns.parse().unwrap(), secs.parse().unwrap());
    let mut poll = Poll::new().unwrap();
    let mut all: Vec<Conn> = (0..conns)
        .map(|i| {
            let mut stream = TcpStream::connect(addr).expect("connect");
            poll.registry()
                .register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .unwrap();
            let now = Instant::now();
            Conn {
                stream,
                buf: vec![0; 4096],
                len: 0,
                sent: now,
            }
        })
        .collect();
    let mut events = Events::with_capacity(1024);
    let mut connected = 0;
    while connected < conns {
        poll.poll(&mut events, None).unwrap();
        connected += events.iter().filter(|e| e.is_writable()).count();
    }
    for c in &mut all {
        c.stream.set_nodelay(true).unwrap();
        c.send(Instant::now());
    }
    let mut latency = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let end = Instant::now() + Duration::from_secs(secs);
    let mut requests = 0u64;
    loop {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        if Instant::now() >= end {
            break;
        }
        for e in events.iter().filter(|e| e.is_readable()) {
            let c = &mut all[e.token().0];
            // Edge-triggered: one request is in flight, so once its response is whole
            // the socket is empty and the next response raises a new edge.
            if c.read_response() {
                let now = Instant::now();
                latency.record((now - c.sent).as_micros() as u64).unwrap();
                requests += 1;
                c.send(now);
            }
        }
    }
    println!(
        "requests {requests} p50 {} p99 {}",
        latency.value_at_quantile(0.5),
        latency.value_at_quantile(0.99)
    );
}
