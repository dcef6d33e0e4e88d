//! Request templates: minijinja, compiled once at start, rendered per request.
//!
//! Functions available in every template:
//! `uuid()`, `random_int(lo, hi)`, `random_hex(n)`, `choice(list)`, `timestamp()` (unix
//! seconds), `now_ms()`, `now_iso()`, `sha256(text)`, `hmac_sha256(key, text)` (hex), and
//! `env(name, default)` for secrets. Context: `vars` (values extracted from earlier
//! responses of the same virtual user), `data.<feeder>` (the current CSV row), `user`
//! (the virtual user's number) and `iteration`.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use minijinja::{Environment, Error, ErrorKind, Value};
use sha2::{Digest, Sha256};

/// A piece of request text: fixed, or a template rendered per request.
#[derive(Clone, Debug)]
pub enum Text {
    Static(String),
    Template(String),
}

impl Text {
    pub fn is_static(&self) -> bool {
        matches!(self, Text::Static(_))
    }
}

/// What one render may spend (minijinja's fuel: about one per instruction and per 64
/// bytes made): a request's template builds a path, headers and a body in far less;
/// a loop run away (a nested `range`) stops after a few milliseconds, failing its
/// request with the reason, instead of holding its user and its thread for seconds.
pub const FUEL: u64 = 500_000;

/// The compiled templates of one plan.
pub struct Templates {
    env: Environment<'static>,
    count: usize,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

impl Templates {
    /// Templates whose `env()` reads no variable (only defaults).
    pub fn new() -> Templates {
        Templates::with_env(BTreeMap::new())
    }

    /// Templates whose `env()` reads `vars` (the environment, as settings read it once:
    /// a lookup per request would take the environment lock on the hot path).
    pub fn with_env(vars: BTreeMap<String, String>) -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        add_functions(&mut env, vars);
        Templates { env, count: 0 }
    }

    /// Compiles `source` unless it has no template syntax. On error: the message and the
    /// 1-based line inside `source`.
    pub fn compile(&mut self, source: &str) -> Result<Text, (String, usize)> {
        if !source.contains("{{") && !source.contains("{%") {
            return Ok(Text::Static(source.to_string()));
        }
        let name = format!("t{}", self.count);
        self.count += 1;
        self.env
            .add_template_owned(name.clone(), source.to_string())
            .map_err(|e| (describe(&e), e.line().unwrap_or(1)))?;
        Ok(Text::Template(name))
    }

    /// A name no render could find, caught before any load: a function that does not
    /// exist, a feeder that is not defined, a variable no step extracts. `feeders` are the
    /// `[data.*]` names, `extracted` every name some step's `extract` sets. Names the
    /// template itself sets (`{% set %}`, loop variables) are not looked up.
    pub fn unknown_name(
        &self,
        text: &Text,
        feeders: &[&str],
        extracted: &[&str],
    ) -> Option<String> {
        let Text::Template(name) = text else {
            return None;
        };
        let t = self.env.get_template(name).ok()?;
        let mut names: Vec<String> = t.undeclared_variables(true).into_iter().collect();
        names.sort();
        let known = |set: &[&str], key: &str| set.contains(&key);
        for n in names {
            let (head, rest) = n.split_once('.').unwrap_or((&n, ""));
            let field = rest.split('.').next().unwrap_or("");
            let problem = match head {
                "user" | "iteration" => None,
                "data" if field.is_empty() || known(feeders, field) => None,
                "data" => Some(format!(
                    "`data.{field}`: no [data.{field}] feeder is defined{}",
                    list(" (feeders: ", feeders)
                )),
                "vars" if field.is_empty() || known(extracted, field) => None,
                "vars" => Some(format!(
                    "`vars.{field}`: no step extracts `{field}` (extract = {{ {field} = \"/json/pointer\" }}){}",
                    list(" (extracted: ", extracted)
                )),
                _ if self.env.globals().any(|(g, _)| g == head) => None,
                _ => {
                    let mut functions: Vec<&str> = self.env.globals().map(|(g, _)| g).collect();
                    functions.sort();
                    Some(format!(
                        "unknown name `{head}`: the functions are {}, and the values vars, data, user, iteration",
                        functions.join(", ")
                    ))
                }
            };
            if problem.is_some() {
                return problem;
            }
        }
        None
    }

    /// The feeders `text` reads a row of (`data.NAME...`); every one of `all` when it
    /// names `data` as a whole.
    pub fn feeders_in(&self, text: &Text, all: &[String]) -> Vec<String> {
        let Text::Template(name) = text else {
            return Vec::new();
        };
        let Ok(t) = self.env.get_template(name) else {
            return Vec::new();
        };
        let mut used = Vec::new();
        for n in t.undeclared_variables(true) {
            let mut parts = n.split('.');
            if parts.next() != Some("data") {
                continue;
            }
            match parts.next() {
                Some(f) => used.push(f.to_string()),
                None => used.extend(all.iter().cloned()),
            }
        }
        used
    }

    /// The text as written in the config.
    pub fn source(&self, text: &Text) -> String {
        match text {
            Text::Static(s) => s.clone(),
            Text::Template(name) => self
                .env
                .get_template(name)
                .map_or_else(|_| String::new(), |t| t.source().to_string()),
        }
    }

    /// Renders `text` into `out` (appending).
    pub fn render(&self, text: &Text, ctx: &Value, out: &mut String) -> Result<(), String> {
        match text {
            Text::Static(s) => out.push_str(s),
            Text::Template(name) => {
                let t = self.env.get_template(name).map_err(|e| describe(&e))?;
                let rendered = t.render(ctx.clone()).map_err(|e| {
                    // "undefined value" alone does not say which: name the ones unset.
                    let mut unset: Vec<String> = t
                        .undeclared_variables(true)
                        .into_iter()
                        .filter(|n| {
                            let head = n.split('.').next().unwrap_or(n);
                            !self.env.globals().any(|(g, _)| g == head)
                                && lookup(ctx, n).is_undefined()
                        })
                        .collect();
                    unset.sort();
                    match e.kind() {
                        ErrorKind::OutOfFuel => format!(
                            "the template did more than a request's template may ({FUEL} steps: a loop too long?): render less per request"
                        ),
                        ErrorKind::UndefinedError if !unset.is_empty() => {
                            format!("{} ({} not set)", describe(&e), unset.join(", "))
                        }
                        _ => describe(&e),
                    }
                })?;
                out.push_str(&rendered);
            }
        }
        Ok(())
    }
}

/// " (feeders: a, b)" or "".
fn list(lead: &str, names: &[&str]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!("{lead}{})", names.join(", "))
    }
}

/// The value at a dotted path ("vars.token"), undefined where any part is missing.
fn lookup(ctx: &Value, path: &str) -> Value {
    path.split('.').fold(ctx.clone(), |v, key| {
        v.get_attr(key).unwrap_or(Value::UNDEFINED)
    })
}

fn describe(e: &Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

fn now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn add_functions(env: &mut Environment<'static>, vars: BTreeMap<String, String>) {
    env.add_function("uuid", || {
        let bytes: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    });
    env.add_function("random_int", |lo: i64, hi: i64| -> Result<i64, Error> {
        if lo > hi {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "random_int: lo > hi",
            ));
        }
        Ok(fastrand::i64(lo..=hi))
    });
    env.add_function("random_hex", |n: usize| {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap())
            .collect::<String>()
    });
    env.add_function("choice", |items: Vec<Value>| -> Result<Value, Error> {
        if items.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "choice of an empty list",
            ));
        }
        Ok(items[fastrand::usize(..items.len())].clone())
    });
    env.add_function("timestamp", || now().as_secs());
    env.add_function("now_ms", || now().as_millis() as u64);
    env.add_function("now_iso", || {
        humantime::format_rfc3339_millis(SystemTime::now()).to_string()
    });
    env.add_function("sha256", |text: String| {
        hex::encode(Sha256::digest(text.as_bytes()))
    });
    env.add_function("hmac_sha256", |key: String, text: String| {
        hmac_hex(&key, &text)
    });
    env.add_function(
        "env",
        move |name: String, default: Option<String>| -> Result<String, Error> {
            match (vars.get(&name), default) {
                (Some(v), _) => Ok(v.clone()),
                (None, Some(d)) => Ok(d),
                (None, None) => Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("environment variable {name} is not set"),
                )),
            }
        },
    );
}

/// HMAC-SHA256 of `text` under `key`, as lowercase hex.
pub fn hmac_hex(key: &str, text: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, ctx: Value) -> String {
        let mut t = Templates::new();
        let text = t.compile(src).unwrap();
        let mut out = String::new();
        t.render(&text, &ctx, &mut out).unwrap();
        out
    }

    #[test]
    fn a_runaway_loop_is_stopped_by_its_fuel_and_a_big_body_is_not() {
        let mut t = Templates::new();
        let runaway = t
            .compile(
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            )
            .unwrap();
        let began = std::time::Instant::now();
        let err = t
            .render(&runaway, &Value::UNDEFINED, &mut String::new())
            .unwrap_err();
        assert!(err.contains("500000 steps"), "{err}");
        // Bounded in milliseconds (here, unoptimised: well under a second).
        assert!(began.elapsed().as_millis() < 1000, "{:?}", began.elapsed());
        // A JSON body of 2,000 items with a uuid each renders.
        let body = t
            .compile(r#"[{% for i in range(2000) %}{"id": {{ i }}, "ref": "{{ uuid() }}"},{% endfor %}{}]"#)
            .unwrap();
        let mut out = String::new();
        t.render(&body, &Value::UNDEFINED, &mut out).unwrap();
        assert!(out.len() > 2000 * 40, "{}", out.len());
    }

    #[test]
    fn plain_text_is_not_compiled() {
        assert!(Templates::new().compile("/health").unwrap().is_static());
    }

    #[test]
    fn functions_produce_realistic_values() {
        let id = render("{{ uuid() }}", Value::UNDEFINED);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "version 4 uuid: {id}");
        assert_eq!(render("{{ random_hex(16) }}", Value::UNDEFINED).len(), 16);
        let n: i64 = render("{{ random_int(5, 7) }}", Value::UNDEFINED)
            .parse()
            .unwrap();
        assert!((5..=7).contains(&n));
        assert_eq!(
            render("{{ sha256('abc') }}", Value::UNDEFINED),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // RFC 4231 test case 2.
        assert_eq!(
            render(
                "{{ hmac_sha256('Jefe', 'what do ya want for nothing?') }}",
                Value::UNDEFINED
            ),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn context_values_and_strict_undefined() {
        let ctx = minijinja::context! { vars => minijinja::context!{ token => "abc" } };
        assert_eq!(render("Bearer {{ vars.token }}", ctx), "Bearer abc");
        let mut t = Templates::new();
        let text = t.compile("{{ uuid() }}{{ vars.missing }}").unwrap();
        let err = t
            .render(&text, &Value::UNDEFINED, &mut String::new())
            .unwrap_err();
        assert_eq!(err, "undefined value (vars.missing not set)");
    }

    #[test]
    fn names_no_render_could_find_are_caught_before_load() {
        let mut t = Templates::new();
        let mut unknown = |src: &str| {
            let text = t.compile(src).unwrap();
            t.unknown_name(&text, &["accounts"], &["token"])
        };
        // Functions, feeders, extracted values, the user's number and names the
        // template sets itself are all known.
        for ok in [
            "{{ uuid() }}-{{ data.accounts.id }}-{{ vars.token }}-{{ user }}-{{ iteration }}",
            "{% set n = random_int(1, 3) %}{% for i in range(n) %}{{ i }}{% if not loop.last %},{% endif %}{% endfor %}",
            "/plain",
        ] {
            assert_eq!(unknown(ok), None, "{ok}");
        }
        let msg = unknown("{{ uid() }}").unwrap();
        assert!(
            msg.starts_with("unknown name `uid`: the functions are choice, "),
            "{msg}"
        );
        assert!(
            msg.contains(" uuid, and the values vars, data, user, iteration"),
            "{msg}"
        );
        assert!(unknown("{{ data.acounts.id }}")
            .unwrap()
            .contains("no [data.acounts] feeder"));
        assert!(unknown("{{ vars.tokne }}")
            .unwrap()
            .contains("no step extracts `tokne`"));
    }

    #[test]
    fn syntax_errors_give_the_line() {
        let (msg, line) = Templates::new().compile("a\n{{ oops( }}").unwrap_err();
        assert_eq!(line, 2);
        assert!(msg.contains("syntax"), "{msg}");
    }
}
