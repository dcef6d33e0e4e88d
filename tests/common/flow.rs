//! A server for flow tests that records every request (method, target, headers, body)
//! and answers by route: a login handing out tokens, an echo of the Authorization
//! header, a job that stays pending for a few polls, a response carrying the server's own
//! timing, and 200 `{}` for anything else.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    logins: u64,
    /// Polls each job has had.
    polls: BTreeMap<u64, u64>,
    jobs: u64,
}

pub struct FlowServer {
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// Polls a job answers "pending" to before "done".
pub const PENDING_POLLS: u64 = 2;

impl FlowServer {
    pub fn start() -> FlowServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        FlowServer { url, state }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Requests whose path (before any query) is `path`.
    pub fn count(&self, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.target.split('?').next() == Some(path))
            .count()
    }
}

fn serve(mut s: TcpStream, state: &Mutex<State>) {
    let mut buf = Vec::new();
    while let Some((head, body)) = super::read_request(&mut s, &mut buf) {
        let mut lines = head.lines();
        let mut first = lines.next().unwrap_or("").split_whitespace();
        let (method, target) = (
            first.next().unwrap_or("").to_string(),
            first.next().unwrap_or("").to_string(),
        );
        let headers: BTreeMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let path = target.split('?').next().unwrap_or("").to_string();
        let (extra, reply) = {
            let mut st = state.lock().unwrap();
            let auth = headers.get("authorization").cloned().unwrap_or_default();
            st.seen.push(Seen {
                method: method.clone(),
                target: target.clone(),
                headers,
                body,
            });
            match path.as_str() {
                "/login" => {
                    st.logins += 1;
                    (String::new(), format!("{{\"token\":\"t{}\"}}", st.logins))
                }
                "/echo" => (String::new(), format!("{{\"auth\":\"{auth}\"}}")),
                // A hostile answer: a token that would be a header of its own if sent raw.
                "/login-evil" => (
                    String::new(),
                    "{\"token\":\"abc\\r\\nX-Evil: yes\",\"id\":\"1 HTTP/1.1\\r\\nX-Split: 1\"}"
                        .into(),
                ),
                "/jobs" => {
                    st.jobs += 1;
                    (
                        String::new(),
                        format!("{{\"id\":{},\"state\":\"pending\"}}", st.jobs),
                    )
                }
                p if p.starts_with("/jobs/") => {
                    let id: u64 = p[6..].parse().unwrap_or(0);
                    let n = st.polls.entry(id).or_default();
                    *n += 1;
                    let state = if *n > PENDING_POLLS {
                        "done"
                    } else {
                        "pending"
                    };
                    (
                        String::new(),
                        format!("{{\"id\":{id},\"state\":\"{state}\"}}"),
                    )
                }
                "/timing" => (
                    "server-timing: db;dur=3.5, total;dur=12.5\r\n".to_string(),
                    "{\"timing\":{\"total\":12.5}}".to_string(),
                ),
                _ => (String::new(), "{}".to_string()),
            }
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if s.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
