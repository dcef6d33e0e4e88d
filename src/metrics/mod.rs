//! Measurements: per-thread recording, the collector that builds a `RunResult`,
//! and exact merging of saved results.

mod collector;
mod histogram;
mod merge;
mod metric;
mod names;
mod recorder;
mod result;
mod trim;
mod validate;

pub use collector::Collector;
pub use histogram::{Latency, Packed};
pub use merge::{
    merge, merge_any, merge_each, same_run, Apart, Head, HeadScenario, Merged, Together,
};
pub use metric::{is_transaction, measure, LoadModel, Metric, Op, Scope};
pub use names::Names;
pub use recorder::{grpc_status_name, Failure, Recorder};
pub use result::*;
