//! gRPC over the engine's HTTP/2: a call is a POST of one framed message to
//! `/package.Service/Method`; the answer is framed messages, then trailers whose
//! `grpc-status` says how the call ended (0 is OK). Here: the codec (JSON to a framed
//! message and back), and the framing read as the body arrives, so each message of a
//! server stream is timed.

use std::time::Instant;

use prost_reflect::DynamicMessage;

use crate::config::grpc::GrpcMethod;

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

/// The request message `json` writes, checked against the method's input type.
pub fn message(method: &GrpcMethod, json: &str) -> Result<DynamicMessage, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    DynamicMessage::deserialize(method.input.clone(), &mut de)
        .and_then(|m| de.end().map(|()| m))
        .map_err(|e| format!("message is not a {}: {e}", method.input.full_name()))
}

/// Appends `message`'s gRPC frame to `out`: not compressed, its 4-byte length, its
/// protobuf bytes.
pub fn frame(message: &DynamicMessage, out: &mut Vec<u8>) {
    use prost::Message as _;
    let len = message.encoded_len();
    out.reserve(5 + len);
    out.push(0);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    message.encode_raw(out);
}

/// The response's messages (gRPC frames) as JSON: the one message of a unary call, an
/// array of them for a server stream.
pub fn to_json(method: &GrpcMethod, frames: &[u8]) -> Result<serde_json::Value, String> {
    let mut messages = Vec::new();
    let mut rest = frames;
    while !rest.is_empty() {
        if rest.len() < 5 {
            return Err("a gRPC frame cut short".into());
        }
        if rest[0] != 0 {
            return Err("a compressed gRPC message (perfgate asks for none)".into());
        }
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let body = rest
            .get(5..5 + len)
            .ok_or_else(|| "a gRPC frame cut short".to_string())?;
        let m = DynamicMessage::decode(method.output.clone(), body)
            .map_err(|e| format!("response is not a {}: {e}", method.output.full_name()))?;
        // The .proto's own field names, defaults included: `/valid` reads `false`
        // where proto3's JSON would leave the field out.
        let options = prost_reflect::SerializeOptions::new()
            .use_proto_field_name(true)
            .skip_default_fields(false);
        let json = m
            .serialize_with_options(serde_json::value::Serializer, &options)
            .map_err(|e| e.to_string())?;
        messages.push(json);
        rest = &rest[5 + len..];
    }
    match method.server_streaming {
        true => Ok(serde_json::Value::Array(messages)),
        false if messages.len() == 1 => Ok(messages.pop().unwrap_or_default()),
        false => Err(format!("a unary call answered {} messages", messages.len())),
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
        assert_eq!(crate::metrics::grpc_status_name(0), "OK");
        assert_eq!(crate::metrics::grpc_status_name(14), "UNAVAILABLE");
        assert_eq!(crate::metrics::grpc_status_name(16), "UNAUTHENTICATED");
        assert_eq!(crate::metrics::grpc_status_name(99), "UNKNOWN_CODE");
    }
}

#[cfg(test)]
mod codec_tests {
    use super::*;
    use std::sync::Arc;

    fn verify() -> Arc<GrpcMethod> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/grpc");
        let mut compiler = protox::Compiler::new([&dir]).unwrap();
        compiler.open_files([dir.join("proofs.proto")]).unwrap();
        crate::config::grpc::method(&compiler.descriptor_pool(), "perfgate.demo.Proofs/Verify")
            .unwrap()
    }

    #[test]
    fn a_message_goes_and_comes_back_as_json() {
        let m = verify();
        let mut out = Vec::new();
        frame(
            &message(&m, r#"{"type": "login", "timestamp": "12"}"#).unwrap(),
            &mut out,
        );
        assert_eq!(&out[..5], &[0, 0, 0, 0, (out.len() - 5) as u8]);
        // A Verdict { valid: true } as a server frames it: defaults are shown too.
        let json = to_json(&m, &[0, 0, 0, 0, 2, 0x08, 0x01]).unwrap();
        assert_eq!(json, serde_json::json!({"valid": true, "error": ""}));
        let err = message(&m, r#"{"amount": 3}"#).unwrap_err();
        assert!(
            err.contains("message is not a perfgate.demo.Proof"),
            "{err}"
        );
    }

    /// What a hostile or broken server sends is a failure with words, never a panic.
    #[test]
    fn broken_answers_are_errors() {
        let m = verify();
        let cases: [(&[u8], &str); 5] = [
            (&[0, 0, 0], "cut short"),
            (&[0, 0, 0, 0, 9, 1], "cut short"),
            (&[1, 0, 0, 0, 0], "compressed"),
            (
                &[0, 0, 0, 0, 2, 0xff, 0xff],
                "is not a perfgate.demo.Verdict",
            ),
            (&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "answered 2 messages"),
        ];
        for (bytes, says) in cases {
            let err = to_json(&m, bytes).unwrap_err();
            assert!(err.contains(says), "{bytes:?}: {err}");
        }
        assert!(to_json(&m, &[])
            .unwrap_err()
            .contains("answered 0 messages"));
    }
}
