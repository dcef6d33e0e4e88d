//! Names tasks written in Rust use as they run (endpoints, checks, numbers, gRPC
//! methods), looked up in the run's shared registry once a thread and kept here.

use std::collections::HashMap;
use std::sync::Arc;

use super::worker::Worker;
use crate::metrics::Failure;

/// Names Rust tasks used on this thread, and their indices: looked up once a request,
/// with FNV-1a (SipHash cost 2% of a request here; nothing here needs its defence).
#[derive(Default)]
pub(super) struct Known {
    endpoints: HashMap<String, usize, Fnv>,
    /// By endpoint, then check: looked up without allocating a key.
    checks: HashMap<usize, HashMap<String, usize, Fnv>, Fnv>,
    metrics: HashMap<String, usize, Fnv>,
    /// gRPC methods Rust tasks called, by the name they gave.
    grpc: HashMap<String, Arc<crate::config::grpc::GrpcMethod>, Fnv>,
}

#[derive(Default, Clone, Copy)]
struct Fnv;

impl std::hash::BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

struct FnvHasher(u64);

impl std::hash::Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Worker {
    /// The gRPC method a Rust task calls by `name`, from `[grpc] protos`.
    pub fn grpc_method(&self, name: &str) -> Result<Arc<crate::config::grpc::GrpcMethod>, Failure> {
        if let Some(m) = self.known.borrow().grpc.get(name) {
            return Ok(m.clone());
        }
        let pool = self.plan.protos.as_ref().ok_or_else(|| {
            Failure::Code(
                "User::grpc calls methods of [grpc] protos: name the .proto files in the config"
                    .into(),
            )
        })?;
        let m = crate::config::grpc::method(pool, name).map_err(Failure::Code)?;
        self.known
            .borrow_mut()
            .grpc
            .insert(name.to_string(), m.clone());
        Ok(m)
    }

    /// The index of the endpoint a Rust task calls `name`; the recorder has room for it.
    pub fn endpoint_id(&self, name: &str, method: &str) -> usize {
        if let Some(&i) = self.known.borrow().endpoints.get(name) {
            return i;
        }
        let i = self.names.endpoint(name, method);
        self.known
            .borrow_mut()
            .endpoints
            .insert(name.to_string(), i);
        self.recorder.borrow_mut().grow(i + 1, 0);
        i
    }

    /// The index of soft check `check` on `endpoint`.
    pub fn check_id(&self, endpoint: usize, check: &str) -> usize {
        let known = self
            .known
            .borrow()
            .checks
            .get(&endpoint)
            .and_then(|c| c.get(check).copied());
        if let Some(i) = known {
            return i;
        }
        let i = self.names.check(endpoint, check);
        let mut k = self.known.borrow_mut();
        k.checks
            .entry(endpoint)
            .or_default()
            .insert(check.to_string(), i);
        i
    }

    /// The index of the number `name` a Rust task records.
    pub fn metric_id(&self, name: &str) -> usize {
        if let Some(&i) = self.known.borrow().metrics.get(name) {
            return i;
        }
        let i = self.names.metric(name);
        self.known.borrow_mut().metrics.insert(name.to_string(), i);
        i
    }
}
