//! Node labels and Kubernetes LabelSelector matching.
//!
//! The labels come from a file of `KEY=VALUE` lines (such as
//! `rack=leaf1`), merged with inline labels from the config and, in
//! cluster mode (feature `kube`, `[kubernetes]`), with the Node object's
//! labels, watched live, which the config's override (`runtime/kube/`,
//! `daemon/cluster.rs`; `tests/kube.rs`, `tests/daemon.rs`). Selection follows
//! Kubernetes semantics exactly: matchLabels AND matchExpressions, with
//! In, NotIn, Exists and DoesNotExist, and an empty selector matching all.
use crate::toml_read::{self as tr, FromValue, Spanned, Table};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use toml::de::DeValue;

pub type Labels = BTreeMap<String, String>;

/// An error in a labels file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelsError {
    pub file: String,
    pub line: usize,
    pub problem: String,
}

impl fmt::Display for LabelsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.problem)
    }
}

impl std::error::Error for LabelsError {}

/// What is wrong with a label key or value, or a selector term (the API
/// server's rules). Its text names the key or value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelError {
    /// The part before '/' is not a DNS subdomain.
    Prefix(String),
    /// Nothing after the '/'.
    EmptyName(String),
    Key(String, NameError),
    Value(String, NameError),
    /// In or NotIn with no values.
    NeedsValues(Operator, String),
    /// Exists or DoesNotExist with values.
    TakesNoValues(Operator, String),
}

/// How a key's name or a value breaks the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    TooLong,
    Characters,
    Ends,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::TooLong => "longer than 63 characters",
            NameError::Characters => "only letters, digits, '-', '_' and '.' are allowed",
            NameError::Ends => "must start and end with a letter or digit",
        })
    }
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::quote::quoted;
        match self {
            LabelError::Prefix(p) => {
                write!(f, "label key prefix {} is not a DNS subdomain", quoted(p))
            }
            LabelError::EmptyName(k) => write!(f, "label key {} has an empty name", quoted(k)),
            LabelError::Key(k, e) => write!(f, "label key {}: {e}", quoted(k)),
            LabelError::Value(v, e) => write!(f, "label value {}: {e}", quoted(v)),
            LabelError::NeedsValues(o, k) => write!(f, "{o:?} on {k:?} needs at least one value"),
            LabelError::TakesNoValues(o, k) => write!(f, "{o:?} on {k:?} takes no values"),
        }
    }
}

impl std::error::Error for LabelError {}

/// Kubernetes label key rules: an optional DNS-subdomain prefix and '/',
/// then a name of at most 63 characters, alphanumeric at both ends.
pub fn check_key(key: &str) -> Result<(), LabelError> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        let ok = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !ok {
            return Err(LabelError::Prefix(p.to_string()));
        }
    }
    if name.is_empty() {
        return Err(LabelError::EmptyName(key.to_string()));
    }
    check_name(name).map_err(|e| LabelError::Key(key.to_string(), e))
}

/// Kubernetes label value rules: empty, or at most 63 characters of
/// alphanumerics, '-', '_' and '.', alphanumeric at both ends.
pub fn check_value(value: &str) -> Result<(), LabelError> {
    if value.is_empty() {
        return Ok(());
    }
    check_name(value).map_err(|e| LabelError::Value(value.to_string(), e))
}

fn check_name(s: &str) -> Result<(), NameError> {
    if s.len() > 63 {
        return Err(NameError::TooLong);
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(NameError::Characters);
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(s.chars().next()) || !alnum(s.chars().last()) {
        return Err(NameError::Ends);
    }
    Ok(())
}

const KEY_RULES: &str = "not a label key: an optional DNS-subdomain prefix and '/', then \
     1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
const VALUE_RULES: &str = "not a label value: at most 63 letters, digits, '-', '_' or '.', \
     starting and ending with a letter or digit";

/// Parses a labels file's text. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Labels, LabelsError> {
    let mut labels = Labels::new();
    for (i, raw) in text.lines().enumerate() {
        let err = |problem: String| LabelsError {
            file: file.to_string(),
            line: i + 1,
            problem,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| err("expected KEY=VALUE: this line has no '='".into()))?;
        let (k, v) = (k.trim(), v.trim());
        // Nothing of the file is quoted back: a labels path that points at
        // a secret by mistake must not print the secret in the log.
        check_key(k).map_err(|_| err(KEY_RULES.into()))?;
        check_value(v).map_err(|_| err(VALUE_RULES.into()))?;
        if labels.insert(k.to_string(), v.to_string()).is_some() {
            return Err(err("this label's key is set twice".into()));
        }
    }
    Ok(labels)
}

pub fn load(path: &Path) -> Result<Labels, LabelsError> {
    let name = path.display().to_string();
    let text =
        crate::files::read_text(path, crate::files::LABELS_CAP).map_err(|e| LabelsError {
            file: name.clone(),
            line: e.line(),
            problem: e.to_string(),
        })?;
    parse(&name, &text)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

/// A Kubernetes LabelSelector (snake_case keys in TOML).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub match_labels: BTreeMap<String, String>,
    pub match_expressions: Vec<Requirement>,
}

impl FromValue for Operator {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        tr::with(v, |s| match s {
            "In" => Ok(Operator::In),
            "NotIn" => Ok(Operator::NotIn),
            "Exists" => Ok(Operator::Exists),
            "DoesNotExist" => Ok(Operator::DoesNotExist),
            other => Err(format!(
                "unknown variant `{other}`, expected one of `In`, `NotIn`, `Exists`, `DoesNotExist`"
            )),
        })
    }
}

impl FromValue for Requirement {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        let t = Table::value(v, &["key", "operator", "values"])?;
        Ok(Requirement {
            key: t.req("key")?,
            operator: t.req("operator")?,
            values: t.or("values", Vec::new())?,
        })
    }
}

impl FromValue for LabelSelector {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        let t = Table::value(v, &["match_labels", "match_expressions"])?;
        Ok(LabelSelector {
            match_labels: t.or("match_labels", BTreeMap::new())?,
            match_expressions: t.or("match_expressions", Vec::new())?,
        })
    }
}

impl LabelSelector {
    /// The API server's validation: In/NotIn need values, Exists and
    /// DoesNotExist must have none, keys and values must be valid.
    pub fn validate(&self) -> Result<(), LabelError> {
        for (k, v) in &self.match_labels {
            check_key(k)?;
            check_value(v)?;
        }
        for r in &self.match_expressions {
            check_key(&r.key)?;
            match r.operator {
                Operator::In | Operator::NotIn if r.values.is_empty() => {
                    return Err(LabelError::NeedsValues(r.operator, r.key.clone()));
                }
                Operator::Exists | Operator::DoesNotExist if !r.values.is_empty() => {
                    return Err(LabelError::TakesNoValues(r.operator, r.key.clone()));
                }
                _ => {}
            }
            for v in &r.values {
                check_value(v)?;
            }
        }
        Ok(())
    }

    /// `Ok(())` if the labels match; otherwise the first term that failed,
    /// which `leafvip check` and status show.
    pub fn matches(&self, labels: &Labels) -> Result<(), Mismatch> {
        for (k, v) in &self.match_labels {
            match labels.get(k) {
                Some(have) if have == v => {}
                have => {
                    return Err(Mismatch {
                        term: Term::Label(k.clone(), v.clone()),
                        have: have.cloned(),
                    })
                }
            }
        }
        for r in &self.match_expressions {
            let have = labels.get(&r.key);
            let ok = match r.operator {
                Operator::In => have.is_some_and(|h| r.values.contains(h)),
                Operator::NotIn => have.is_none_or(|h| !r.values.contains(h)),
                Operator::Exists => have.is_some(),
                Operator::DoesNotExist => have.is_none(),
            };
            if !ok {
                return Err(Mismatch {
                    term: Term::Expression(r.clone()),
                    have: have.cloned(),
                });
            }
        }
        Ok(())
    }
}

/// The first term of a selector that a node's labels fail, and the
/// node's value of its key (None: no such label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub term: Term,
    pub have: Option<String>,
}

/// One term of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// `match_labels` key = value.
    Label(String, String),
    Expression(Requirement),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.term {
            Term::Label(k, v) => {
                write!(f, "match_labels {k}={v}: ")?;
                k
            }
            Term::Expression(r) => {
                write!(f, "{} {:?} {:?}: ", r.key, r.operator, r.values)?;
                &r.key
            }
        };
        match &self.have {
            Some(h) => write!(f, "node has {key}={h}"),
            None => write!(f, "node has no label {key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, operator: Operator, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator,
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn parses_files_and_names_bad_lines() {
        let ok = parse(
            "f",
            "# racks\nrack=leaf1\n\n topology.kubernetes.io/zone = dc1 \nempty=\n",
        )
        .unwrap();
        assert_eq!(
            ok,
            l(&[
                ("rack", "leaf1"),
                ("topology.kubernetes.io/zone", "dc1"),
                ("empty", "")
            ])
        );
        let e = parse("/etc/leafvip/labels", "rack=leaf1\nnonsense\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/leafvip/labels:2: expected KEY=VALUE: this line has no '='"
        );
        assert_eq!(parse("f", "a=1\na=2").unwrap_err().line, 2);
        assert!(parse("f", "rack=leaf 1")
            .unwrap_err()
            .problem
            .starts_with("not a label value"));
        // A labels path pointing at a secret by mistake: the error names
        // the line and the rule, never the text.
        let secret = "root:$6$s3cretHash$abcdefgh:19000:0:99999:7:::";
        for text in [
            secret.to_string(),
            format!("{secret}=x"),
            format!("k={secret}"),
        ] {
            let e = parse("/etc/shadow", &text).unwrap_err().to_string();
            assert!(!e.contains("s3cret"), "{e}");
            assert!(e.starts_with("/etc/shadow:1: "), "{e}");
        }
        assert!(parse("f", "-x=1").is_err());
        assert!(parse("f", "Bad_Prefix/x=1").is_err());
    }

    #[test]
    fn kubernetes_selector_semantics() {
        let node = l(&[("rack", "leaf1"), ("role", "worker")]);
        assert!(
            LabelSelector::default().matches(&node).is_ok(),
            "empty matches all"
        );
        assert!(LabelSelector::default().matches(&Labels::new()).is_ok());
        let sel = |ml: &[(&str, &str)], me: Vec<Requirement>| LabelSelector {
            match_labels: ml
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            match_expressions: me,
        };
        assert!(sel(&[("rack", "leaf1")], vec![]).matches(&node).is_ok());
        let e = sel(&[("rack", "leaf2")], vec![])
            .matches(&node)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "match_labels rack=leaf2: node has rack=leaf1"
        );
        assert!(
            sel(&[], vec![req("rack", Operator::In, &["leaf1", "leaf3"])])
                .matches(&node)
                .is_ok()
        );
        assert!(sel(&[], vec![req("rack", Operator::NotIn, &["leaf1"])])
            .matches(&node)
            .is_err());
        assert!(
            sel(&[], vec![req("zone", Operator::NotIn, &["a"])])
                .matches(&node)
                .is_ok(),
            "NotIn matches absent keys"
        );
        assert!(sel(&[], vec![req("zone", Operator::In, &["a"])])
            .matches(&node)
            .is_err());
        assert!(sel(&[], vec![req("role", Operator::Exists, &[])])
            .matches(&node)
            .is_ok());
        assert!(sel(&[], vec![req("role", Operator::DoesNotExist, &[])])
            .matches(&node)
            .is_err());
        // matchLabels AND matchExpressions.
        let both = sel(
            &[("rack", "leaf1")],
            vec![req("role", Operator::In, &["master"])],
        );
        let e = both.matches(&node).unwrap_err();
        assert_eq!(e.to_string(), "role In [\"master\"]: node has role=worker");
    }

    #[test]
    fn selector_validation() {
        let bad = LabelSelector {
            match_expressions: vec![req("rack", Operator::In, &[])],
            ..Default::default()
        };
        assert_eq!(
            bad.validate(),
            Err(LabelError::NeedsValues(Operator::In, "rack".into()))
        );
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("needs at least one value"));
        let bad = LabelSelector {
            match_expressions: vec![req("rack", Operator::Exists, &["x"])],
            ..Default::default()
        };
        assert_eq!(
            bad.validate(),
            Err(LabelError::TakesNoValues(Operator::Exists, "rack".into()))
        );
    }
}
