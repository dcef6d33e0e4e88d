//! gRPC steps' methods from `.proto` files, compiled at plan time with `protox` (a
//! protobuf compiler in Rust: nothing to install) into `prost-reflect` descriptors, so
//! request messages can be written as JSON and responses read back as JSON (the codec
//! is the engine's, `engine/grpc.rs`). A message without templates is checked here.

use std::sync::Arc;

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use toml::Spanned;

use super::files::beside_config;
use super::users::KnownNames;
use crate::config::{Config, ConfigError, RequestConfig, Source};

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
    let mut de = serde_json::Deserializer::from_str(text.get_ref());
    DynamicMessage::deserialize(method.input.clone(), &mut de)
        .and_then(|_| de.end())
        .map_err(|e| {
            let why = format!("message is not a {}: {e}", method.input.full_name());
            source.error(text.span(), why)
        })
}

/// A gRPC step's method, checked against what else the step says.
pub(super) fn plan_grpc(
    spanned: &Spanned<RequestConfig>,
    name: &Spanned<String>,
    source: &Source,
    known: &KnownNames<'_>,
) -> Result<std::sync::Arc<super::grpc::GrpcMethod>, ConfigError> {
    let r = spanned.get_ref();
    let at = |msg: String| source.error(name.span(), msg);
    let http_keys = [
        ("path", r.path.is_some()),
        ("method", r.method.is_some()),
        ("body", r.body.is_some()),
        ("json", r.json.is_some()),
    ];
    if let Some((key, _)) = http_keys.iter().find(|(_, set)| *set) {
        return Err(at(format!(
            "a gRPC step has no `{key}`: the method is its path, `message` its body"
        )));
    }
    let pool = known.grpc.as_ref().ok_or_else(|| {
        at(
            "grpc steps need the services' definitions: add [grpc] protos = [\"service.proto\"]"
                .into(),
        )
    })?;
    super::grpc::method(pool, name.get_ref()).map_err(at)
}
