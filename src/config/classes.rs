//! The `[[users]]` tables of perfgate.toml (user classes, their tasks and steps, what
//! is expected of an answer) and the `[data.*]` feeders, as serde reads them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::Dur;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserClass {
    pub name: String,
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default)]
    pub wait: Wait,
    pub tasks: Option<Spanned<Vec<Spanned<RequestConfig>>>>,
    /// Requests a user sends once, before its first task (closed model), or at the start
    /// of each arrival (open model): a login. Failing, it is tried again before the next.
    pub on_start: Option<Spanned<Vec<Spanned<RequestConfig>>>>,
    /// Requests a user sends when it leaves: a ramp-down, the run's end (within its grace
    /// for requests in flight), or each arrival's end (open model).
    pub on_stop: Option<Spanned<Vec<Spanned<RequestConfig>>>>,
    /// Reuse the tasks of another class (the Locust setup's
    /// `PeakHourUser(ProofMessengerUser)`).
    pub tasks_from: Option<String>,
}

fn one() -> u32 {
    1
}

/// Think time between task iterations.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Wait {
    /// Always this long.
    Constant(Dur),
    /// Uniformly random in [low, high].
    Between([Dur; 2]),
    /// Start an iteration every so often, whatever the iteration took.
    Pacing(Dur),
}

impl Default for Wait {
    fn default() -> Self {
        Wait::Constant(Dur::default())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
/// A task (one request, or a sequence of requests in `steps`) or one step of a task.
pub struct RequestConfig {
    /// Task name (tasks only; default: the endpoint).
    pub name: Option<String>,
    /// Task weight (tasks only; default 1).
    pub weight: Option<u32>,
    /// The requests of a multi-request task, in order (tasks only).
    #[serde(default)]
    pub steps: Vec<Spanned<RequestConfig>>,
    /// A task written in Rust, by the name its test registered it under (tasks only).
    pub code: Option<Spanned<String>>,
    /// The endpoint name metrics and SLOs use (default: the path as written).
    pub endpoint: Option<String>,
    pub method: Option<String>,
    pub path: Option<Spanned<String>>,
    /// A gRPC call instead of `method` and `path`: "package.Service/Method" of `[grpc]
    /// protos`, its request written as a JSON template in `message`, metadata in
    /// `headers`.
    pub grpc: Option<Spanned<String>>,
    pub message: Option<Spanned<String>>,
    /// Opens a WebSocket session on this path (a template), `headers` sent with the
    /// upgrade; later steps of the task `send` and `receive` on it.
    pub ws: Option<Spanned<String>>,
    /// A text message to send on the task's WebSocket session (a template).
    pub send: Option<Spanned<String>>,
    /// Wait on the session for a message that meets this.
    pub receive: Option<Spanned<Receive>>,
    /// Close the task's WebSocket session (it also closes when the task ends).
    #[serde(default)]
    pub close: bool,
    #[serde(default)]
    pub query: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub body: Option<Spanned<String>>,
    /// A JSON body template; sets content-type: application/json.
    pub json: Option<Spanned<String>>,
    #[serde(default)]
    pub expect: Expect,
    /// Soft checks, in `expect`'s words: each counted with its pass rate, never failing
    /// the request.
    pub check: Option<Spanned<Expect>>,
    /// Values to keep from the JSON response: variable name -> JSON pointer.
    #[serde(default)]
    pub extract: BTreeMap<String, String>,
    /// Send this request only when the template renders `true`.
    pub when: Option<Spanned<String>>,
    /// Send it again: `{ times = 3 }`, or poll `{ until = "{{ ... }}", max = 10, every = "500ms" }`.
    pub repeat: Option<Spanned<RepeatConfig>>,
    /// Think time after this request.
    pub think: Option<Dur>,
    /// Numbers read from each response into a histogram a budget can bound
    /// (`NAME_p95 = 50`): a JSON pointer ("/timing/total"), "header:NAME" (the first
    /// number in it) or "server-timing:NAME" (that entry's dur).
    #[serde(default)]
    pub metrics: BTreeMap<String, String>,
    /// Labels for the endpoints this request (or this task's steps) calls: carried into
    /// the result, the exports and the reports, and selectable as a budget scope.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// `repeat = { ... }` on a step.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatConfig {
    pub times: Option<u32>,
    /// A template: stop once it renders `true` (read after each response's `extract`).
    pub until: Option<Spanned<String>>,
    /// With `until`: at most this many sends (default 10); the last fails if `until`
    /// still does not hold.
    pub max: Option<u32>,
    /// The pause between sends (default none).
    pub every: Option<Dur>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Allowed statuses (default: any below 400).
    pub status: Option<StatusList>,
    pub body_contains: Option<String>,
    /// JSON pointer -> expected value.
    #[serde(default)]
    pub json: BTreeMap<String, toml::Value>,
    /// Response header -> text its value must contain.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// `receive = { ... }`: the message a WebSocket step waits for (any, when empty).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receive {
    /// Text the message contains.
    pub contains: Option<String>,
    /// JSON pointer -> the value there.
    #[serde(default)]
    pub json: BTreeMap<String, toml::Value>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum StatusList {
    One(u16),
    Many(Vec<u16>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    /// A CSV file with a header row, or a JSON array of objects (`.json`).
    pub file: PathBuf,
    #[serde(default)]
    pub order: DataOrder,
    /// Each row used once: when every row has been used, the iterations that need one
    /// fail saying the feeder ran dry, instead of starting over.
    #[serde(default)]
    pub unique: bool,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DataOrder {
    #[default]
    Sequential,
    Random,
}
