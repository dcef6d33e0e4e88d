//! A response head as the engine reads it: status, how the body is framed, and the few
//! headers the client acts on (Location, Set-Cookie, the ones a request captures).

use std::time::Instant;

use crate::metrics::Failure;

/// The parts of a response the engine looks at.
pub struct Response {
    pub status: u16,
    /// Body bytes, as delivered (after chunked decoding).
    pub body_bytes: u64,
    /// When the first byte of the response arrived.
    pub first_byte: Instant,
    /// The headers the client acts on, when there are any (boxed: most responses have
    /// none, and a small `Response` moves cheaply through the futures).
    pub extra: Option<Box<Extra>>,
    /// The body was larger than `[target] max_body`: only its start was kept.
    pub body_cut: bool,
}

/// The rare response headers the client acts on.
#[derive(Default)]
pub struct Extra {
    /// The `Location` header of a 3xx response.
    pub location: Option<String>,
    /// The `Set-Cookie` headers' values.
    pub set_cookies: Vec<String>,
    /// The headers the request asked for (see `Conn::exchange`), by their index there.
    pub captured: Vec<(usize, String)>,
    /// A gRPC call's `grpc-status`, from the trailers (or the headers of an answer
    /// without a body).
    pub grpc_status: Option<u32>,
    /// When each message of a gRPC answer arrived (asked for server streams).
    pub messages: Vec<Instant>,
}

impl Response {
    pub fn location(&self) -> Option<&str> {
        self.extra.as_ref()?.location.as_deref()
    }

    pub fn set_cookies(&self) -> &[String] {
        self.extra.as_ref().map_or(&[], |e| &e.set_cookies)
    }

    pub fn grpc_status(&self) -> Option<u32> {
        self.extra.as_ref()?.grpc_status
    }

    pub fn messages(&self) -> &[Instant] {
        self.extra.as_ref().map_or(&[], |e| &e.messages)
    }

    /// The value of the `i`-th header the request asked to capture.
    pub fn captured(&self, i: usize) -> Option<&str> {
        let e = self.extra.as_ref()?;
        e.captured
            .iter()
            .find(|(j, _)| *j == i)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Copy)]
pub enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// Keeps the first value of each header named in `names`.
pub fn capture(
    resp: &httparse::Response<'_, '_>,
    names: &[String],
    extra: &mut Option<Box<Extra>>,
) {
    for h in resp.headers.iter() {
        if let Some(i) = names.iter().position(|n| h.name.eq_ignore_ascii_case(n)) {
            let e = extra.get_or_insert_default();
            if !e.captured.iter().any(|(j, _)| *j == i) {
                e.captured
                    .push((i, String::from_utf8_lossy(h.value).into_owned()));
            }
        }
    }
}

/// How the body is framed, whether the connection closes after it, and the headers the
/// client acts on (a 3xx's `Location`, `Set-Cookie`).
pub fn framing(
    resp: &httparse::Response<'_, '_>,
    head_only: bool,
) -> Result<(Framing, bool, Option<Box<Extra>>), Failure> {
    let mut extra: Option<Box<Extra>> = None;
    let redirect = resp.code.is_some_and(|c| (300..400).contains(&c));
    let mut length = None;
    let mut chunked = false;
    let mut close = resp.version == Some(0);
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            length = Some(
                content_length(h.value)
                    .ok_or_else(|| Failure::Protocol("bad content-length".into()))?,
            );
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .windows(7)
                .any(|w| w.eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("set-cookie") {
            let value = String::from_utf8_lossy(h.value).into_owned();
            extra.get_or_insert_default().set_cookies.push(value);
        } else if redirect && h.name.eq_ignore_ascii_case("location") {
            let value = String::from_utf8_lossy(h.value).into_owned();
            extra.get_or_insert_default().location = Some(value);
        } else if h.name.eq_ignore_ascii_case("connection") {
            if h.value.eq_ignore_ascii_case(b"close") {
                close = true;
            } else if h.value.eq_ignore_ascii_case(b"keep-alive") {
                close = false;
            }
        }
    }
    let status = resp.code.unwrap_or(0);
    let framing = if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        close = true;
        Framing::UntilClose
    };
    Ok((framing, close, extra))
}

/// A Content-Length value: decimal digits, optionally padded with spaces or tabs.
fn content_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// The bytes a chunk of `size` occupies after its size line (its data and CRLF); a size
/// no body can have (near 2^64, which wrapped `size + 2`) is a bad response.
pub fn chunk_span(size: u64) -> Result<u64, Failure> {
    size.checked_add(2)
        .filter(|n| *n < 1 << 62)
        .ok_or_else(|| Failure::Protocol("chunk size too large".into()))
}

/// Reads `data` as a response the way a connection does (head, framing, the headers it
/// keeps, chunk sizes), for the fuzzer (`crate::fuzz`).
pub fn read_for_fuzzing(data: &[u8]) {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(head)) = resp.parse(data) else {
        return;
    };
    let Ok((framing, _, mut extra)) = framing(&resp, false) else {
        return;
    };
    capture(&resp, &["location".into(), "x-token".into()], &mut extra);
    if let Framing::Chunked = framing {
        let mut rest = &data[head..];
        while let Ok(httparse::Status::Complete((line, size))) = httparse::parse_chunk_size(rest) {
            let Ok(span) = chunk_span(size) else { return };
            if size == 0 || (line as u64).saturating_add(span) > rest.len() as u64 {
                return;
            }
            rest = &rest[line + span as usize..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk size near 2^64 wrapped `size + 2` (a panic in a debug build, a bogus
    /// length in a release one): it is a bad response.
    #[test]
    fn a_chunk_size_no_body_can_have_is_a_bad_response() {
        assert_eq!(chunk_span(5).unwrap(), 7);
        for size in [u64::MAX, u64::MAX - 1, 1 << 62] {
            assert!(chunk_span(size).is_err(), "{size}");
        }
        read_for_fuzzing(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffff\r\nhello\r\n",
        );
    }

    #[test]
    fn content_length_takes_only_digits() {
        assert_eq!(content_length(b"0"), Some(0));
        assert_eq!(content_length(b" 1234\t"), Some(1234));
        assert_eq!(
            content_length(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        for bad in [
            &b""[..],
            b" ",
            b"12a",
            b"-1",
            b"+1",
            b"1 2",
            b"99999999999999999999",
        ] {
            assert_eq!(
                content_length(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
