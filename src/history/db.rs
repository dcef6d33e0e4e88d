//! The two database back-ends behind one small interface: embedded SQLite (rusqlite,
//! bundled) and PostgreSQL (the `postgres` client). SQL is written once, with `$1`-style
//! parameters, which both accept.

use anyhow::{bail, Context as _, Result};

/// A value going into or coming out of a statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Val {
    pub fn int(&self) -> i64 {
        match self {
            Val::Int(i) => *i,
            Val::Real(f) => *f as i64,
            _ => 0,
        }
    }
    pub fn real(&self) -> f64 {
        match self {
            Val::Real(f) => *f,
            Val::Int(i) => *i as f64,
            _ => 0.0,
        }
    }
    pub fn text(&self) -> Option<String> {
        match self {
            Val::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::Text(s.to_string())
    }
}
impl From<Option<&str>> for Val {
    fn from(s: Option<&str>) -> Val {
        s.map_or(Val::Null, Val::from)
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Val {
        Val::Int(i)
    }
}
impl From<u64> for Val {
    fn from(i: u64) -> Val {
        Val::Int(i as i64)
    }
}
impl From<f64> for Val {
    fn from(f: f64) -> Val {
        Val::Real(f)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

pub trait Db {
    fn dialect(&self) -> Dialect;
    /// Runs one or more statements without parameters.
    fn batch(&mut self, sql: &str) -> Result<()>;
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64>;
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>>;
}

/// The SQLite file `url` names: a path, or `sqlite:path` / `sqlite://path` as people
/// write database URLs; None for PostgreSQL.
pub fn sqlite_path(url: &str) -> Option<&std::path::Path> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    Some(std::path::Path::new(path))
}

/// Opens `url`: `postgres://…` / `postgresql://…`, else a SQLite file (see
/// [`sqlite_path`]). The SQLite file's folder is created.
pub fn open(url: &str) -> Result<Box<dyn Db>> {
    let Some(path) = sqlite_path(url) else {
        let client = postgres::Client::connect(url, postgres::NoTls)
            .with_context(|| format!("cannot connect to {}", redact(url)))?;
        return Ok(Box::new(Postgres(client)));
    };
    if path.as_os_str().is_empty() {
        bail!("--history: give a SQLite file or a postgres:// URL");
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let conn = rusqlite::Connection::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .with_context(|| format!("{} is not a SQLite database", path.display()))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(Box::new(Sqlite(conn)))
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

struct Sqlite(rusqlite::Connection);

impl Db for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.0.execute_batch(sql)?)
    }
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        let mut st = self.0.prepare_cached(sql)?;
        Ok(st.execute(rusqlite::params_from_iter(params.iter().map(to_sqlite)))? as u64)
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>> {
        let mut st = self.0.prepare_cached(sql)?;
        let n = st.column_count();
        let rows = st.query_map(
            rusqlite::params_from_iter(params.iter().map(to_sqlite)),
            |row| {
                (0..n)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => Val::Null,
                            rusqlite::types::ValueRef::Integer(i) => Val::Int(i),
                            rusqlite::types::ValueRef::Real(f) => Val::Real(f),
                            rusqlite::types::ValueRef::Text(t) => {
                                Val::Text(String::from_utf8_lossy(t).into_owned())
                            }
                            rusqlite::types::ValueRef::Blob(_) => Val::Null,
                        })
                    })
                    .collect::<rusqlite::Result<Vec<Val>>>()
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

fn to_sqlite(v: &Val) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match v {
        Val::Null => Value::Null,
        Val::Int(i) => Value::Integer(*i),
        Val::Real(f) => Value::Real(*f),
        Val::Text(s) => Value::Text(s.clone()),
    }
}

struct Postgres(postgres::Client);

impl Db for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.0.batch_execute(sql)?)
    }
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        let owned = pg_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            owned.iter().map(|b| b.as_ref()).collect();
        Ok(self.0.execute(sql, &refs)?)
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>> {
        use postgres::types::Type;
        let owned = pg_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            owned.iter().map(|b| b.as_ref()).collect();
        let rows = self.0.query(sql, &refs)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut vals = Vec::with_capacity(row.len());
            for (i, col) in row.columns().iter().enumerate() {
                let t = col.type_();
                let v = if *t == Type::INT8 {
                    row.get::<_, Option<i64>>(i).map_or(Val::Null, Val::Int)
                } else if *t == Type::INT4 {
                    row.get::<_, Option<i32>>(i)
                        .map_or(Val::Null, |v| Val::Int(v as i64))
                } else if *t == Type::FLOAT8 {
                    row.get::<_, Option<f64>>(i).map_or(Val::Null, Val::Real)
                } else if *t == Type::TEXT || *t == Type::VARCHAR {
                    row.get::<_, Option<String>>(i).map_or(Val::Null, Val::Text)
                } else {
                    bail!("unexpected column type {t} in {sql}")
                };
                vals.push(v);
            }
            out.push(vals);
        }
        Ok(out)
    }
}

fn pg_params(params: &[Val]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|v| -> Box<dyn postgres::types::ToSql + Sync> {
            match v {
                Val::Null => Box::new(None::<String>),
                Val::Int(i) => Box::new(*i),
                Val::Real(f) => Box::new(*f),
                Val::Text(s) => Box::new(s.clone()),
            }
        })
        .collect()
}
