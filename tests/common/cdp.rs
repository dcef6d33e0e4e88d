//! Headless Chromium driven over the DevTools protocol, so a test can type into a page
//! and press its buttons as a person would. `--remote-debugging-pipe`: JSON messages
//! ending in NUL, written to Chromium's file descriptor 3 and read from its 4 (no
//! WebSocket client needed).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub struct Browser {
    child: Child,
    to: File,
    from: BufReader<File>,
    next_id: u64,
    /// The page's session (Target.attachToTarget, flattened).
    session: String,
}

impl Browser {
    /// Starts `chromium` headless on `url` with its profile in `profile`.
    pub fn open(chromium: &str, profile: &Path, url: &str) -> Browser {
        let (chrome_reads, we_write) = pipe();
        let (we_read, chrome_writes) = pipe();
        let mut cmd = Command::new(chromium);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .args(["--disable-background-networking", "--remote-debugging-pipe"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--window-size=1100,1400")
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec. Both
        // ends are first moved above 10, so neither is overwritten by the other's dup2;
        // dup2 leaves 3 and 4 open across exec (the pipes are close-on-exec elsewhere).
        unsafe {
            cmd.pre_exec(move || {
                let high = |fd| libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
                let (r, w) = (high(chrome_reads), high(chrome_writes));
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("chromium starts");
        // SAFETY: each fd is ours alone from here on (Chromium has its own copies).
        let (to, from) = unsafe {
            libc::close(chrome_reads);
            libc::close(chrome_writes);
            (File::from_raw_fd(we_write), File::from_raw_fd(we_read))
        };
        let mut b = Browser {
            child,
            to,
            from: BufReader::new(from),
            next_id: 0,
            session: String::new(),
        };
        let start = Instant::now();
        let page = loop {
            let targets = b.send(None, "Target.getTargets", json!({}));
            let page = targets["targetInfos"]
                .as_array()
                .and_then(|t| t.iter().find(|t| t["type"] == "page"))
                .map(|t| t["targetId"].clone());
            match page {
                Some(id) => break id,
                None if start.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                None => panic!("chromium opened no page: {targets}"),
            }
        };
        let attached = b.send(
            None,
            "Target.attachToTarget",
            json!({"targetId": page, "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        b
    }

    /// Sends one command and waits for its answer (events meanwhile are skipped).
    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        self.to.write_all(&bytes).expect("writing to chromium");
        loop {
            let mut raw = Vec::new();
            let n = self.from.read_until(0, &mut raw).expect("reading chromium");
            assert!(n > 0, "chromium closed its pipe during {method}");
            raw.pop();
            let answer: Value = serde_json::from_slice(&raw).expect("chromium sends JSON");
            if answer["id"] == id {
                assert!(answer["error"].is_null(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// A command to the page.
    pub fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(Some(&session), method, params)
    }

    /// The value of a JavaScript expression in the page.
    pub fn eval(&mut self, js: &str) -> Value {
        let r = self.page(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r["exceptionDetails"].is_null(), "{js}: {r}");
        r["result"]["value"].clone()
    }

    /// Polls `js` until it is true, within `limit` (while the page loads, it may throw).
    pub fn wait_for(&mut self, js: &str, limit: Duration) {
        let start = Instant::now();
        let test =
            format!("(() => {{ try {{ return !!({js}); }} catch (e) {{ return false; }} }})()");
        while self.eval(&test) != json!(true) {
            assert!(start.elapsed() < limit, "waited {limit:?} for {js}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Presses the left mouse button over the middle of the element with `id`.
    pub fn click(&mut self, id: &str) {
        let at = self.eval(&format!(
            "(() => {{ const r = document.getElementById({id:?}).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        for kind in ["mousePressed", "mouseReleased"] {
            self.page(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": at[0], "y": at[1], "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Clicks into the input `id`, selects what it holds and types `text` over it.
    pub fn type_into(&mut self, id: &str, text: &str) {
        self.click(id);
        self.eval(&format!("document.getElementById({id:?}).select()"));
        self.page("Input.insertText", json!({ "text": text }));
    }

    /// A PNG of the page as it is drawn now.
    pub fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = self.page("Page.captureScreenshot", json!({"format": "png"}));
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pipe whose ends are closed in any other process this one starts.
fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    let ok = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(ok, 0, "pipe2: {}", std::io::Error::last_os_error());
    (fds[0], fds[1])
}
