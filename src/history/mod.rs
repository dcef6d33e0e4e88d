//! Run history: every recorded run with its commit, branch, scenario, environment,
//! verdict, per-endpoint summary and the full RunResult; in an embedded SQLite file by
//! default, or in PostgreSQL for teams whose CI runners share no disk. One schema, one
//! code path, versioned migrations.

mod baseline;
mod db;

use anyhow::{bail, Context as _, Result};

pub use baseline::{load_baseline, Loaded};
use db::Db;
pub use db::{redact, sqlite_path, Dialect, Val};

use crate::metrics::{RunResult, Stats};

/// Versioned migrations, applied in order, each once. Never edit a released one: add
/// the next. `{id}` is the dialect's auto-increment key.
const MIGRATIONS: &[&str] = &[
    // 1: runs and their per-endpoint summaries ("" is the whole run).
    "CREATE TABLE runs (
        id {id} PRIMARY KEY,
        recorded_at TEXT NOT NULL,
        started_at TEXT NOT NULL,
        commit_sha TEXT,
        branch TEXT,
        scenario TEXT NOT NULL,
        environment TEXT,
        status TEXT NOT NULL,
        duration_s DOUBLE PRECISION NOT NULL,
        result_json TEXT NOT NULL
    );
    CREATE TABLE endpoint_metrics (
        run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        endpoint TEXT NOT NULL,
        method TEXT NOT NULL,
        requests BIGINT NOT NULL,
        failures BIGINT NOT NULL,
        rps DOUBLE PRECISION NOT NULL,
        error_rate DOUBLE PRECISION NOT NULL,
        avg_ms DOUBLE PRECISION NOT NULL,
        p50_ms DOUBLE PRECISION NOT NULL,
        p95_ms DOUBLE PRECISION NOT NULL,
        p99_ms DOUBLE PRECISION NOT NULL,
        max_ms DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (run_id, endpoint)
    );",
    // 2: the tool that produced the run, and an index for baselines by branch.
    "ALTER TABLE runs ADD COLUMN tool TEXT;
    CREATE INDEX runs_by_branch ON runs (branch, scenario, id);",
];

/// One row of `perfgate history`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub id: i64,
    pub started_at: String,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub scenario: String,
    pub environment: Option<String>,
    pub status: String,
    pub requests: u64,
    pub failures: u64,
    pub rps: f64,
    pub error_rate: f64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Which runs to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub branch: Option<String>,
    pub scenario: Option<String>,
    pub environment: Option<String>,
    /// None or "" for the whole run.
    pub endpoint: Option<String>,
    pub limit: u32,
}

pub struct Store {
    db: Box<dyn Db>,
    /// As given, password removed, for messages.
    pub url: String,
}

impl Store {
    /// Opens (creating if needed) and migrates to the current schema.
    pub fn open(url: &str) -> Result<Store> {
        Self::open_at(url, MIGRATIONS.len())
    }

    /// Opens and migrates only up to `version` (to test upgrades from old databases).
    pub fn open_at(url: &str, version: usize) -> Result<Store> {
        let mut store = Store {
            db: db::open(url)?,
            url: redact(url),
        };
        store
            .migrate(version)
            .with_context(|| format!("cannot prepare the history in {}", store.url))?;
        Ok(store)
    }

    /// Runs raw SQL (for tests that build old databases by hand).
    #[doc(hidden)]
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        self.db.batch(sql)
    }

    pub fn schema_version(&mut self) -> Result<usize> {
        let rows = self
            .db
            .query("SELECT MAX(version) FROM perfgate_migrations", &[])?;
        Ok(rows.first().map_or(0, |r| r[0].int() as usize))
    }

    fn migrate(&mut self, target: usize) -> Result<()> {
        self.begin()?;
        let done = (|| -> Result<()> {
            self.db.batch(
                "CREATE TABLE IF NOT EXISTS perfgate_migrations (
                    version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
            )?;
            let have = self.schema_version()?;
            if have > MIGRATIONS.len() {
                bail!(
                    "the history was written by a newer perfgate (schema {have}, this one knows {}); upgrade perfgate",
                    MIGRATIONS.len()
                );
            }
            let id = match self.db.dialect() {
                Dialect::Sqlite => "INTEGER",
                Dialect::Postgres => "BIGSERIAL",
            };
            for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(have) {
                self.db.batch(&sql.replace("{id}", id))?;
                self.db.exec(
                    "INSERT INTO perfgate_migrations (version, applied_at) VALUES ($1, $2)",
                    &[Val::Int(i as i64 + 1), now().as_str().into()],
                )?;
            }
            Ok(())
        })();
        self.end(done)
    }

    /// Starts a write transaction that serialises writers: SQLite takes its write lock at
    /// once, PostgreSQL an advisory lock, so two CI jobs never interleave.
    fn begin(&mut self) -> Result<()> {
        match self.db.dialect() {
            Dialect::Sqlite => self.db.batch("BEGIN IMMEDIATE"),
            Dialect::Postgres => self
                .db
                .batch("BEGIN; SELECT pg_advisory_xact_lock(7074111);"),
        }
    }

    fn end<T>(&mut self, outcome: Result<T>) -> Result<T> {
        match outcome {
            Ok(v) => {
                self.db.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.db.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Records a run with its verdict ("passed", "failed", "inconclusive",
    /// "interrupted"); returns its id.
    pub fn record(&mut self, r: &RunResult, status: &str) -> Result<i64> {
        self.begin()?;
        let done = (|| -> Result<i64> {
            let rows = self.db.query(
                "INSERT INTO runs (recorded_at, started_at, commit_sha, branch, scenario, environment,
                                   status, duration_s, result_json, tool)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                &[
                    now().as_str().into(),
                    r.started_at.as_str().into(),
                    r.git.commit.as_deref().into(),
                    r.git.branch.as_deref().into(),
                    r.scenario.name.as_str().into(),
                    r.environment.as_deref().into(),
                    status.into(),
                    r.duration_s.into(),
                    r.to_json().as_str().into(),
                    r.tool.as_str().into(),
                ],
            )?;
            let id = rows.first().map(|r| r[0].int()).context("no id returned")?;
            for (name, s) in std::iter::once(("", &r.total))
                .chain(r.endpoints.iter().map(|e| (e.name.as_str(), e)))
            {
                self.insert_endpoint(id, name, s)?;
            }
            Ok(id)
        })();
        self.end(done)
    }

    fn insert_endpoint(&mut self, id: i64, name: &str, s: &Stats) -> Result<()> {
        let m = &s.summary;
        self.db.exec(
            "INSERT INTO endpoint_metrics (run_id, endpoint, method, requests, failures, rps,
                 error_rate, avg_ms, p50_ms, p95_ms, p99_ms, max_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                id.into(),
                name.into(),
                s.method.as_str().into(),
                s.requests.into(),
                s.failures.into(),
                m.rps.into(),
                m.error_rate.into(),
                m.avg_ms.into(),
                m.p50_ms.into(),
                m.p95_ms.into(),
                m.p99_ms.into(),
                m.max_ms.into(),
            ],
        )?;
        Ok(())
    }

    /// The newest runs matching `f`, oldest first.
    pub fn runs(&mut self, f: &Filter) -> Result<Vec<RunRow>> {
        let rows = self.db.query(
            "SELECT r.id, r.started_at, r.commit_sha, r.branch, r.scenario, r.environment, r.status,
                    e.requests, e.failures, e.rps, e.error_rate, e.avg_ms, e.p50_ms, e.p95_ms,
                    e.p99_ms, e.max_ms
             FROM runs r JOIN endpoint_metrics e ON e.run_id = r.id
             WHERE e.endpoint = $1
               AND ($2 = '' OR r.branch = $2)
               AND ($3 = '' OR r.scenario = $3)
               AND ($4 = '' OR r.environment = $4)
             ORDER BY r.id DESC LIMIT $5",
            &[
                f.endpoint.as_deref().unwrap_or("").into(),
                f.branch.as_deref().unwrap_or("").into(),
                f.scenario.as_deref().unwrap_or("").into(),
                f.environment.as_deref().unwrap_or("").into(),
                Val::Int(f.limit.max(1) as i64),
            ],
        )?;
        let mut out: Vec<RunRow> = rows
            .into_iter()
            .map(|v| RunRow {
                id: v[0].int(),
                started_at: v[1].text().unwrap_or_default(),
                commit: v[2].text(),
                branch: v[3].text(),
                scenario: v[4].text().unwrap_or_default(),
                environment: v[5].text(),
                status: v[6].text().unwrap_or_default(),
                requests: v[7].int() as u64,
                failures: v[8].int() as u64,
                rps: v[9].real(),
                error_rate: v[10].real(),
                avg_ms: v[11].real(),
                p50_ms: v[12].real(),
                p95_ms: v[13].real(),
                p99_ms: v[14].real(),
                max_ms: v[15].real(),
            })
            .collect();
        out.reverse();
        Ok(out)
    }

    /// The full RunResult of run `id`.
    pub fn result(&mut self, id: i64) -> Result<RunResult> {
        let rows = self
            .db
            .query("SELECT result_json FROM runs WHERE id = $1", &[id.into()])?;
        let json = rows
            .first()
            .and_then(|r| r[0].text())
            .with_context(|| format!("no run {id} in {}", self.url))?;
        RunResult::from_json(&json).map_err(|e| anyhow::anyhow!("run {id} in {}: {e}", self.url))
    }

    /// A baseline from history: of the last `n` completed runs of `scenario` on `branch`,
    /// the one with the median whole-run p99 — a real run with its per-second data, and
    /// robust to one noisy run either way. None when there is no such run yet.
    pub fn baseline(&mut self, branch: &str, scenario: &str, n: u32) -> Result<Option<RunResult>> {
        let f = Filter {
            branch: Some(branch.to_string()),
            scenario: Some(scenario.to_string()),
            limit: n.max(1) * 4,
            ..Filter::default()
        };
        let mut rows: Vec<RunRow> = self
            .runs(&f)?
            .into_iter()
            .rev()
            .filter(|r| r.status == "passed" || r.status == "failed")
            .take(n.max(1) as usize)
            .collect();
        if rows.is_empty() {
            return Ok(None);
        }
        rows.sort_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms));
        let id = rows[rows.len() / 2].id;
        self.result(id).map(Some)
    }
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
