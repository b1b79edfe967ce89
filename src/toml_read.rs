//! Typed reading of TOML through the parser's spanned tree.
//!
//! serde's derive monomorphises one visitor per struct for each of the TOML
//! deserializer's types; for our dozen config structs that cost about
//! 150 KiB of a static binary whose budget is 1.5 MiB. Walking the spanned
//! tree instead costs a few KiB, and every error, unknown keys included,
//! points at the value that caused it.
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use toml::de::{DeTable, DeValue};
pub use toml::Spanned;

/// A problem at a byte offset of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub at: usize,
    pub problem: String,
}

pub type Result<T> = std::result::Result<T, Error>;

fn error<T>(at: usize, problem: String) -> Result<T> {
    Err(Error { at, problem })
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, at: usize) -> usize {
    text.get(..at).map_or(0, |t| t.matches('\n').count() + 1)
}

/// Lines of byte offsets asked for in document order. Each call counts only
/// the newlines between the previous offset and this one, so walking a
/// list of tables is linear; `line_of` per table was quadratic (100k
/// inline `[[vip]]`s took minutes to load).
pub struct Lines<'t> {
    text: &'t [u8],
    at: usize,
    line: usize,
}

impl<'t> Lines<'t> {
    pub fn new(text: &'t str) -> Self {
        Lines {
            text: text.as_bytes(),
            at: 0,
            line: 1,
        }
    }

    /// The 1-based line of `at`; 0 past the end, as `line_of`.
    pub fn line(&mut self, at: usize) -> usize {
        if at > self.text.len() {
            return 0;
        }
        let newlines = |s: &[u8]| s.iter().filter(|&&b| b == b'\n').count();
        if at >= self.at {
            self.line += newlines(&self.text[self.at..at]);
        } else {
            self.line -= newlines(&self.text[at..self.at]);
        }
        self.at = at;
        self.line
    }
}

/// Parses a document into its spanned tree.
pub fn document<'i>(text: &'i str) -> Result<Spanned<DeTable<'i>>> {
    DeTable::parse(text).map_err(|e| Error {
        at: e.span().map_or(0, |s| s.start),
        problem: e.message().trim().to_string(),
    })
}

/// A table being read: every key must be one of `keys`, and each getter
/// reports a bad value at that value's own position.
pub struct Table<'a, 'i> {
    table: &'a DeTable<'i>,
    at: usize,
}

impl<'a, 'i> Table<'a, 'i> {
    pub fn new(table: &'a Spanned<DeTable<'i>>, keys: &[&str]) -> Result<Self> {
        Self::of(table.get_ref(), table.span().start, keys)
    }

    fn of(table: &'a DeTable<'i>, at: usize, keys: &[&str]) -> Result<Self> {
        for k in table.keys() {
            if !keys.contains(&k.get_ref().as_ref()) {
                let expected: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
                return error(
                    k.span().start,
                    format!(
                        "unknown field `{}`, expected one of {}",
                        k.get_ref(),
                        expected.join(", ")
                    ),
                );
            }
        }
        Ok(Table { table, at })
    }

    /// Reads a value as a table of its own.
    pub fn value(v: &'a Spanned<DeValue<'i>>, keys: &[&str]) -> Result<Self> {
        match v.get_ref() {
            DeValue::Table(t) => Self::of(t, v.span().start, keys),
            other => error(
                v.span().start,
                format!("expected a table, found {}", other.type_str()),
            ),
        }
    }

    /// Where `key`'s value starts, or the table if the key is absent: for
    /// errors found after reading.
    pub fn at_key(&self, key: &str) -> usize {
        self.raw(key).map_or(self.at, |v| v.span().start)
    }

    /// An error at `key`'s value.
    pub fn error<T>(&self, key: &str, problem: String) -> Result<T> {
        error(self.at_key(key), problem)
    }

    pub fn raw(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.table.get(key)
    }

    /// The value of `key`, if present; a bad one's error names the key
    /// ("`hold_time`: invalid type: string, expected u16"). Errors inside
    /// a nested table name their own key instead.
    pub fn get<T: FromValue>(&self, key: &str) -> Result<Option<T>> {
        self.raw(key)
            .map(|v| {
                T::from_value(v).map_err(|e| match v.get_ref() {
                    DeValue::Table(_) => e,
                    _ => Error {
                        at: e.at,
                        problem: format!("`{key}`: {}", e.problem),
                    },
                })
            })
            .transpose()
    }

    pub fn or<T: FromValue>(&self, key: &str, default: T) -> Result<T> {
        Ok(self.get(key)?.unwrap_or(default))
    }

    pub fn req<T: FromValue>(&self, key: &str) -> Result<T> {
        match self.get(key)? {
            Some(v) => Ok(v),
            None => error(self.at, format!("missing field `{key}`")),
        }
    }

    /// A `[[key]]` array of tables, each with its position.
    pub fn tables(&self, key: &str) -> Result<Vec<&'a Spanned<DeValue<'i>>>> {
        match self.raw(key) {
            None => Ok(Vec::new()),
            Some(v) => match v.get_ref() {
                DeValue::Array(a) => Ok(a.iter().collect()),
                other => error(
                    v.span().start,
                    format!(
                        "`{key}` must be an array of tables, found {}",
                        other.type_str()
                    ),
                ),
            },
        }
    }
}

/// A type read from one TOML value.
pub trait FromValue: Sized {
    fn from_value(v: &Spanned<DeValue<'_>>) -> Result<Self>;
}

fn mismatch<T>(v: &Spanned<DeValue<'_>>, expected: &str) -> Result<T> {
    error(
        v.span().start,
        format!(
            "invalid type: {}, expected {expected}",
            v.get_ref().type_str()
        ),
    )
}

/// The string of a string value.
pub fn string<'a>(v: &'a Spanned<DeValue<'_>>) -> Result<&'a str> {
    match v.get_ref() {
        DeValue::String(s) => Ok(s),
        _ => mismatch(v, "a string"),
    }
}

/// A string value through `FromStr`, with the parser's message.
pub fn parsed<T: FromStr>(v: &Spanned<DeValue<'_>>) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    string(v)?.parse().map_err(|e: T::Err| Error {
        at: v.span().start,
        problem: crate::quote::clip(&e.to_string()),
    })
}

/// A string value through a parser of ours.
pub fn with<T, E: std::fmt::Display>(
    v: &Spanned<DeValue<'_>>,
    parse: impl FnOnce(&str) -> std::result::Result<T, E>,
) -> Result<T> {
    parse(string(v)?).map_err(|e| Error {
        at: v.span().start,
        problem: e.to_string(),
    })
}

fn integer(v: &Spanned<DeValue<'_>>, ty: &str, max: u64) -> Result<u64> {
    let DeValue::Integer(i) = v.get_ref() else {
        return mismatch(v, ty);
    };
    match u64::from_str_radix(i.as_str(), i.radix()) {
        Ok(n) if n <= max => Ok(n),
        _ => error(
            v.span().start,
            format!("invalid value: integer `{i}`, expected {ty} (0..={max})"),
        ),
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Spanned<DeValue<'_>>) -> Result<Self> {
                // The bound makes the conversion exact.
                integer(v, stringify!($t), <$t>::MAX.into()).map(|n| n as $t)
            }
        }
    )*};
}
unsigned!(u8, u16, u32);

impl FromValue for bool {
    fn from_value(v: &Spanned<DeValue<'_>>) -> Result<Self> {
        match v.get_ref() {
            DeValue::Boolean(b) => Ok(*b),
            _ => mismatch(v, "a boolean"),
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Spanned<DeValue<'_>>) -> Result<Self> {
        string(v).map(str::to_string)
    }
}

impl FromValue for PathBuf {
    fn from_value(v: &Spanned<DeValue<'_>>) -> Result<Self> {
        string(v).map(PathBuf::from)
    }
}

macro_rules! address {
    ($($t:ty => $what:literal),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Spanned<DeValue<'_>>) -> Result<Self> {
                with(v, |s| s.parse().map_err(|_| format!("{} is not {}", crate::quote::quoted(s), $what)))
            }
        }
    )*};
}
address!(
    IpAddr => "an IP address",
    Ipv4Addr => "an IPv4 address",
    Ipv6Addr => "an IPv6 address",
    SocketAddr => "ADDRESS:PORT"
);

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: &Spanned<DeValue<'_>>) -> Result<Self> {
        match v.get_ref() {
            DeValue::Array(a) => a.iter().map(T::from_value).collect(),
            _ => mismatch(v, "an array"),
        }
    }
}

impl FromValue for BTreeMap<String, String> {
    fn from_value(v: &Spanned<DeValue<'_>>) -> Result<Self> {
        match v.get_ref() {
            DeValue::Table(t) => t
                .iter()
                .map(|(k, v)| Ok((k.get_ref().to_string(), String::from_value(v)?)))
                .collect(),
            _ => mismatch(v, "a table of strings"),
        }
    }
}

impl<T: FromValue> FromValue for Spanned<T> {
    fn from_value(v: &Spanned<DeValue<'_>>) -> Result<Self> {
        Ok(Spanned::new(v.span(), T::from_value(v)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Spanned<DeTable<'_>> {
        document(text).unwrap()
    }

    #[test]
    fn reads_typed_values_and_names_bad_ones() {
        let d = doc("a = 300\nb = \"x\"\nc = [1, 2]\nd = true\n");
        let t = Table::new(&d, &["a", "b", "c", "d"]).unwrap();
        assert_eq!(t.req::<u16>("a"), Ok(300));
        assert_eq!(t.req::<Vec<u8>>("c"), Ok(vec![1, 2]));
        assert_eq!(t.req::<bool>("d"), Ok(true));
        assert_eq!(t.get::<u32>("zz"), Ok(None));
        let e = t.req::<u8>("a").unwrap_err();
        assert_eq!(line_of("a = 300\n", e.at), 1);
        assert!(e.problem.contains("expected u8"), "{}", e.problem);
        let e = t.req::<u8>("b").unwrap_err();
        assert!(e.problem.contains("invalid type: string"), "{}", e.problem);
        let e = t.req::<IpAddr>("b").unwrap_err();
        assert!(e.problem.contains("not an IP address"), "{}", e.problem);
        assert!(t
            .req::<u8>("zz")
            .unwrap_err()
            .problem
            .contains("missing field `zz`"));
    }

    #[test]
    fn unknown_keys_point_at_the_key() {
        let text = "a = 1\n\nbb = 2\n";
        let d = doc(text);
        let e = Table::new(&d, &["a"]).err().unwrap();
        assert_eq!(line_of(text, e.at), 3);
        assert!(e.problem.starts_with("unknown field `bb`"), "{}", e.problem);
    }

    #[test]
    fn arrays_of_tables_keep_their_lines() {
        let text = "x = 1\n[[p]]\nn = 1\n\n[[p]]\nn = 2\n";
        let d = doc(text);
        let t = Table::new(&d, &["x", "p"]).unwrap();
        let lines: Vec<usize> = t
            .tables("p")
            .unwrap()
            .iter()
            .map(|v| line_of(text, v.span().start))
            .collect();
        assert_eq!(lines, vec![2, 5]);
    }

    #[test]
    fn lines_agree_with_line_of_in_any_order() {
        let text = "a\n\nb = 1\nc\n\n\nd";
        let mut l = Lines::new(text);
        for at in [0, 3, 9, 2, 12, 12, 1, text.len(), 5, text.len() + 1, 0] {
            assert_eq!(l.line(at), line_of(text, at), "at {at}");
        }
    }

    #[test]
    fn type_errors_name_the_key() {
        let d = doc("hold_time = \"90s\"\n");
        let t = Table::new(&d, &["hold_time"]).unwrap();
        let e = t.req::<u16>("hold_time").unwrap_err();
        assert_eq!(e.problem, "`hold_time`: invalid type: string, expected u16");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = document("a = 1\nb = \n").unwrap_err();
        assert_eq!(line_of("a = 1\nb = \n", e.at), 2);
    }
}
