//! gRPC over the engine's HTTP/2: a call is a POST of one framed message to
//! `/package.Service/Method`; the answer is framed messages, then trailers whose
//! `grpc-status` says how the call ended (0 is OK). Here: the status names, and the
//! framing read as the body arrives, so each message of a server stream is timed.

use std::time::Instant;

/// The name of a gRPC status code, as failure reasons show it.
pub fn status_name(code: u32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    NAMES.get(code as usize).copied().unwrap_or("UNKNOWN_CODE")
}

/// Where the framing of a gRPC body is: within a message's 5-byte prefix, or its bytes.
#[derive(Default)]
pub struct Frames {
    prefix: [u8; 5],
    /// Bytes of the prefix read.
    got: usize,
    /// Bytes of the message still to come.
    left: usize,
}

impl Frames {
    /// Reads `data`, the next bytes of the body; each message it completes is noted at
    /// `now` in `done`.
    pub fn feed(&mut self, mut data: &[u8], now: Instant, done: &mut Vec<Instant>) {
        while !data.is_empty() {
            if self.got < 5 {
                let n = (5 - self.got).min(data.len());
                self.prefix[self.got..self.got + n].copy_from_slice(&data[..n]);
                self.got += n;
                data = &data[n..];
                if self.got == 5 {
                    let [_, a, b, c, d] = self.prefix;
                    self.left = u32::from_be_bytes([a, b, c, d]) as usize;
                }
            } else {
                let n = self.left.min(data.len());
                self.left -= n;
                data = &data[n..];
            }
            if self.got == 5 && self.left == 0 {
                done.push(now);
                self.got = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_found_across_chunks() {
        let mut body = Vec::new();
        for len in [3u32, 0, 300] {
            body.push(0);
            body.extend_from_slice(&len.to_be_bytes());
            body.extend(std::iter::repeat_n(7u8, len as usize));
        }
        for chunk in [1, 2, 5, 7, 64, body.len()] {
            let (mut f, mut done) = (Frames::default(), Vec::new());
            for part in body.chunks(chunk) {
                f.feed(part, Instant::now(), &mut done);
            }
            assert_eq!(done.len(), 3, "chunks of {chunk}");
        }
        let (mut f, mut done) = (Frames::default(), Vec::new());
        f.feed(&body[..body.len() - 1], Instant::now(), &mut done);
        assert_eq!(done.len(), 2, "the last message is one byte short");
    }

    #[test]
    fn status_names() {
        assert_eq!(status_name(0), "OK");
        assert_eq!(status_name(14), "UNAVAILABLE");
        assert_eq!(status_name(16), "UNAUTHENTICATED");
        assert_eq!(status_name(99), "UNKNOWN_CODE");
    }
}
