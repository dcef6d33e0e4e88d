//! gRPC methods from `.proto` files, compiled at plan time with `protox` (a protobuf
//! compiler in Rust: nothing to install) into `prost-reflect` descriptors, so request
//! messages can be written as JSON and responses read back as JSON.

use std::sync::Arc;

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use toml::Spanned;

use super::files::beside_config;
use crate::config::{Config, ConfigError, Source};

/// The metric a server-streaming call records each message's time in.
pub const MESSAGE_MS: &str = "message_ms";

/// A method a step calls: where it is posted, and the messages it takes and gives.
#[derive(Debug)]
pub struct GrpcMethod {
    /// `/package.Service/Method`, the HTTP/2 path and the default endpoint name.
    pub path: String,
    pub input: MessageDescriptor,
    pub output: MessageDescriptor,
    /// The server answers with a stream of messages (each one timed).
    pub server_streaming: bool,
}

/// `[grpc] protos`, compiled; None when the config names none.
pub(super) fn pool(
    config: &Config,
    source: &Source,
) -> Result<Option<DescriptorPool>, ConfigError> {
    let Some(g) = &config.grpc else {
        return Ok(None);
    };
    let at = |msg: String| source.error(g.span(), msg);
    let g = g.get_ref();
    if g.protos.is_empty() {
        return Err(at(
            "[grpc] protos is empty: name the .proto files that define the services".into(),
        ));
    }
    let files: Vec<_> = g.protos.iter().map(|p| beside_config(source, p)).collect();
    // Each file's folder, then the `include` folders, resolve imports.
    let mut includes: Vec<_> = files
        .iter()
        .map(|f| f.parent().map(|d| d.to_path_buf()).unwrap_or_default())
        .collect();
    includes.extend(g.include.iter().map(|p| beside_config(source, p)));
    for i in &mut includes {
        if i.as_os_str().is_empty() {
            *i = ".".into();
        }
    }
    for f in &files {
        if !f.is_file() {
            return Err(at(format!("[grpc] protos: {} is not a file", f.display())));
        }
    }
    let mut compiler = protox::Compiler::new(&includes).map_err(|e| at(e.to_string()))?;
    compiler
        .open_files(&files)
        .map_err(|e| at(format!("[grpc] protos do not compile: {e}")))?;
    Ok(Some(compiler.descriptor_pool()))
}

/// The method `name` ("package.Service/Method", a leading '/' allowed) names.
pub fn method(pool: &DescriptorPool, name: &str) -> Result<Arc<GrpcMethod>, String> {
    let trimmed = name.trim_start_matches('/');
    let (service, method) = trimmed
        .split_once('/')
        .ok_or_else(|| format!("grpc {name:?}: write it as \"package.Service/Method\""))?;
    let s = pool.get_service_by_name(service).ok_or_else(|| {
        let known: Vec<_> = pool.services().map(|s| s.full_name().to_string()).collect();
        format!(
            "grpc {name:?}: no service {service:?} in [grpc] protos (they define: {})",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )
    })?;
    let m = s.methods().find(|m| m.name() == method).ok_or_else(|| {
        let known: Vec<_> = s.methods().map(|m| m.name().to_string()).collect();
        format!(
            "grpc {name:?}: service {service} has no method {method:?} (it has: {})",
            known.join(", ")
        )
    })?;
    if m.is_client_streaming() {
        return Err(format!(
            "grpc {name:?}: client-streaming methods are not supported (unary and server-streaming are)"
        ));
    }
    Ok(Arc::new(GrpcMethod {
        path: format!("/{service}/{method}"),
        input: m.input(),
        output: m.output(),
        server_streaming: m.is_server_streaming(),
    }))
}

/// Checks a message written without templates against its type, at plan time.
pub(super) fn check_message(
    method: &GrpcMethod,
    text: &Spanned<String>,
    source: &Source,
) -> Result<(), ConfigError> {
    message(method, text.get_ref())
        .map(drop)
        .map_err(|e| source.error(text.span(), e))
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

    fn verify() -> Arc<GrpcMethod> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/grpc");
        let mut compiler = protox::Compiler::new([&dir]).unwrap();
        compiler.open_files([dir.join("proofs.proto")]).unwrap();
        method(&compiler.descriptor_pool(), "perfgate.demo.Proofs/Verify").unwrap()
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
