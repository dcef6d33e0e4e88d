//! The scrape endpoint: `GET /metrics` in the Prometheus text format, served by one small
//! thread from the latest snapshot, so a scrape never touches the load.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Server {
    pub addr: SocketAddr,
    text: Arc<Mutex<String>>,
    scrapes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Server {
    pub fn start(addr: &str) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let server = Server {
            addr: listener.local_addr()?,
            text: Arc::default(),
            scrapes: Arc::default(),
            stop: Arc::default(),
        };
        let (text, scrapes, stop) = (
            server.text.clone(),
            server.scrapes.clone(),
            server.stop.clone(),
        );
        std::thread::Builder::new()
            .name("perfgate-metrics".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                            let mut head = [0u8; 4096];
                            let n = stream.read(&mut head).unwrap_or(0);
                            let request = String::from_utf8_lossy(&head[..n]);
                            let response = if request.starts_with("GET /metrics") {
                                let body = text.lock().expect("metrics text").clone();
                                scrapes.fetch_add(1, Ordering::Relaxed);
                                format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
                            } else {
                                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
                            };
                            let _ = stream.write_all(response.as_bytes());
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
            })?;
        Ok(server)
    }

    pub fn publish(&self, text: String) {
        *self.text.lock().expect("metrics text") = text;
    }

    /// Keeps serving until the final numbers were scraped once, or `limit` passed.
    pub fn linger(self, limit: Duration) {
        let seen = self.scrapes.load(Ordering::Relaxed);
        let deadline = Instant::now() + limit;
        if seen > 0 {
            errln!(
                "waiting up to {}s for a last scrape of {}",
                limit.as_secs(),
                self.addr
            );
            while self.scrapes.load(Ordering::Relaxed) == seen && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.stop.store(true, Ordering::Relaxed);
    }
}
