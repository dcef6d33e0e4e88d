//! `[data.*]` feeders: rows of a CSV file or a JSON array of objects, held compactly (the
//! file's text once, with where each field or row ends) and turned into a template value
//! only for the row an iteration takes. A million-row file costs about its own size.

use std::sync::atomic::{AtomicUsize, Ordering};

use minijinja::Value;

use super::files::beside_config;
use crate::config::{Config, ConfigError, DataOrder, Source};

/// Rows of a CSV or JSON file, handed out in order or at random, or each once.
pub struct Feeder {
    /// The name templates read it by (`data.NAME`).
    pub name: String,
    rows: Rows,
    order: DataOrder,
    unique: bool,
    /// With `unique` and `random`: the order the rows are handed out in (shuffled once).
    shuffled: Option<Vec<u32>>,
    next: AtomicUsize,
}

/// The rows, compact: one string and where each piece of it ends.
enum Rows {
    /// CSV: every field of every row, in order; row `r`'s field `c` is piece
    /// `r * headers.len() + c`.
    Csv {
        headers: Vec<String>,
        text: String,
        ends: Vec<u32>,
    },
    /// JSON: each row's object as JSON text (its values keep their types when parsed).
    Json { text: String, ends: Vec<u32> },
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            Rows::Csv { headers, ends, .. } => ends.len() / headers.len().max(1),
            Rows::Json { ends, .. } => ends.len(),
        }
    }

    /// Row `i` as a template value: a map of its named values.
    fn value(&self, i: usize) -> Value {
        let piece = |ends: &[u32], k: usize| -> (usize, usize) {
            let start = if k == 0 { 0 } else { ends[k - 1] as usize };
            (start, ends[k] as usize)
        };
        match self {
            Rows::Csv {
                headers,
                text,
                ends,
            } => {
                let n = headers.len();
                let row: std::collections::BTreeMap<&str, &str> = (0..n)
                    .map(|c| {
                        let (a, b) = piece(ends, i * n + c);
                        (headers[c].as_str(), &text[a..b])
                    })
                    .collect();
                Value::from(minijinja::value::Serde(&row))
            }
            Rows::Json { text, ends } => {
                let (a, b) = piece(ends, i);
                let item: serde_json::Value =
                    serde_json::from_str(&text[a..b]).expect("checked when read");
                Value::from(minijinja::value::Serde(&item))
            }
        }
    }
}

impl Feeder {
    /// How many rows it holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it holds no row (never: a file without rows is refused).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next row; with `unique`, None once every row has been handed out.
    pub fn next_row(&self) -> Option<Value> {
        let n = self.rows.len();
        let i = match (self.order, self.unique) {
            (DataOrder::Random, false) => fastrand::usize(..n),
            _ => self.next.fetch_add(1, Ordering::Relaxed),
        };
        let i = match self.unique {
            true if i >= n => return None,
            true => self.shuffled.as_ref().map_or(i, |s| s[i] as usize),
            false => i % n,
        };
        Some(self.rows.value(i))
    }
}

/// Every `[data.*]` feeder, its rows read.
pub(super) fn feeders(config: &Config, source: &Source) -> Result<Vec<Feeder>, ConfigError> {
    let mut feeders = Vec::new();
    for (name, df) in &config.data {
        let d = df.get_ref();
        let path = beside_config(source, &d.file);
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let rows = if json {
            read_json(&path)
        } else {
            read_csv(&path)
        }
        .map_err(|e| source.error(df.span(), format!("data {name:?}: {e}")))?;
        // Unique and random: a shuffled order, fixed when the rows were read.
        let shuffled = (d.unique && d.order == DataOrder::Random).then(|| {
            let mut order: Vec<u32> = (0..rows.len() as u32).collect();
            fastrand::shuffle(&mut order);
            order
        });
        feeders.push(Feeder {
            name: name.clone(),
            rows,
            order: d.order,
            unique: d.unique,
            shuffled,
            next: Default::default(),
        });
    }
    Ok(feeders)
}

/// Where a piece ends, as the u32 the rows keep (a file over 4 GiB is refused).
fn end(len: usize, path: &std::path::Path) -> Result<u32, String> {
    u32::try_from(len).map_err(|_| {
        format!(
            "{}: over 4 GiB of data: split it into several feeders",
            path.display()
        )
    })
}

/// A JSON array of objects, one row each (values keep their JSON types), read as a
/// stream: each item is copied into the rows' text as it is read, so the file is never
/// held whole beside them.
fn read_json(path: &std::path::Path) -> Result<Rows, String> {
    use serde::de::{Deserializer as _, Error as _, SeqAccess, Visitor};
    use serde_json::value::RawValue;

    struct Items<'a> {
        text: &'a mut String,
        ends: &'a mut Vec<u32>,
        path: &'a std::path::Path,
    }
    impl<'de> Visitor<'de> for Items<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON array of objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
            while let Some(item) = items.next_element::<Box<RawValue>>()? {
                let raw = item.get();
                if !raw.starts_with('{') {
                    return Err(A::Error::custom(format!(
                        "item {} is not an object: each row is an object of named values",
                        self.ends.len()
                    )));
                }
                self.text.push_str(raw);
                self.ends
                    .push(end(self.text.len(), self.path).map_err(A::Error::custom)?);
            }
            Ok(())
        }
    }
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let (mut text, mut ends) = (String::new(), Vec::new());
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(file));
    let items = Items {
        text: &mut text,
        ends: &mut ends,
        path,
    };
    de.deserialize_seq(items)
        .and_then(|()| de.end())
        .map_err(|e| format!("{}: not a JSON array of objects: {e}", path.display()))?;
    if ends.is_empty() {
        return Err(format!("{} has no rows (an empty array)", path.display()));
    }
    Ok(Rows::Json { text, ends })
}

/// A CSV file with a header row; every row has the header's fields.
fn read_csv(path: &std::path::Path) -> Result<Rows, String> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .iter()
        .map(str::to_string)
        .collect();
    let (mut text, mut ends) = (String::new(), Vec::new());
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                for field in record.iter() {
                    text.push_str(field);
                    ends.push(end(text.len(), path)?);
                }
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    if ends.is_empty() {
        return Err(format!("{} has no data rows", path.display()));
    }
    Ok(Rows::Csv {
        headers,
        text,
        ends,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("perfgate-feeder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn feeder(rows: Rows, order: DataOrder, unique: bool) -> Feeder {
        let shuffled = (unique && order == DataOrder::Random).then(|| {
            let mut o: Vec<u32> = (0..rows.len() as u32).collect();
            fastrand::shuffle(&mut o);
            o
        });
        Feeder {
            name: "d".into(),
            rows,
            order,
            unique,
            shuffled,
            next: Default::default(),
        }
    }

    /// Issue 37: the rows handed out are the values the rows were before they were held
    /// compactly (a map of strings a CSV row, the object with its JSON types a JSON row).
    #[test]
    fn rows_read_as_the_values_they_were() {
        let csv = file(
            "a.csv",
            "user,token\nalice,t1\n\"b,ob\",\"t\"\"2\"\n".as_bytes(),
        );
        let f = feeder(read_csv(&csv).unwrap(), DataOrder::Sequential, false);
        let was = |row: serde_json::Value| Value::from(minijinja::value::Serde(&row));
        let want = [
            serde_json::json!({"user": "alice", "token": "t1"}),
            serde_json::json!({"user": "b,ob", "token": "t\"2"}),
        ];
        for expected in want.iter().chain(&want) {
            let row = f.next_row().unwrap();
            assert_eq!(row, was(expected.clone()));
            assert_eq!(row.get_attr("user").unwrap(), was(expected["user"].clone()));
        }
        let json = file(
            "a.json",
            br#"[{"id": 7, "ok": true, "tags": ["x"]}, {"id": 8.5, "name": null}]"#,
        );
        let f = feeder(read_json(&json).unwrap(), DataOrder::Sequential, true);
        assert_eq!(
            f.next_row().unwrap(),
            was(serde_json::json!({"id": 7, "ok": true, "tags": ["x"]}))
        );
        assert_eq!(
            f.next_row().unwrap(),
            was(serde_json::json!({"id": 8.5, "name": null}))
        );
        assert!(f.next_row().is_none(), "unique: each row once");
    }

    #[test]
    fn unique_random_rows_are_each_handed_out_once() {
        let text: String = std::iter::once("n\n".to_string())
            .chain((0..500).map(|i| format!("{i}\n")))
            .collect();
        let f = feeder(
            read_csv(&file("n.csv", text.as_bytes())).unwrap(),
            DataOrder::Random,
            true,
        );
        let mut seen: Vec<String> = std::iter::from_fn(|| f.next_row())
            .map(|r| r.get_attr("n").unwrap().to_string())
            .collect();
        assert_eq!(seen.len(), 500);
        let in_order: Vec<String> = (0..500).map(|i| i.to_string()).collect();
        assert_ne!(seen, in_order, "shuffled");
        seen.sort_by_key(|s| s.parse::<u32>().unwrap());
        assert_eq!(seen, in_order);
    }

    #[test]
    fn bad_files_say_where() {
        let ragged = read_csv(&file("r.csv", b"a,b\n1,2\n3\n")).err().unwrap();
        assert!(
            ragged.contains("line 3") || ragged.contains("record 2"),
            "{ragged}"
        );
        let utf8 = read_csv(&file("u.csv", b"a\n\xff\xfe\n")).err().unwrap();
        assert!(utf8.contains("UTF-8"), "{utf8}");
        let not_object = read_json(&file("o.json", b"[{\"a\": 1}, 2]"))
            .err()
            .unwrap();
        assert!(
            not_object.contains("item 1 is not an object"),
            "{not_object}"
        );
        assert!(read_json(&file("e.json", b"[]"))
            .err()
            .unwrap()
            .contains("no rows"));
        assert!(read_csv(&file("e.csv", b"a,b\n"))
            .err()
            .unwrap()
            .contains("no data rows"));
    }
}
