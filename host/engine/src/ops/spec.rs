//! Parsing of `"Out = In"` column specs.

use crate::error::{EngineError, Result};

/// An output column name and the input column it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnPair {
    pub output: String,
    pub input: String,
}

/// Parses `"Out = In"` or `"Col"` (same name in and out).
pub(crate) fn parse_pair(spec: &str) -> Result<ColumnPair> {
    let bad = |reason: &str| EngineError::InvalidSpec {
        what: "column spec".to_string(),
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    let (out, inp) = match spec.split_once('=') {
        Some((o, i)) => (o.trim(), i.trim()),
        None => (spec.trim(), spec.trim()),
    };
    if out.is_empty() || inp.is_empty() {
        return Err(bad("expected `Name` or `Out = In`"));
    }
    if [out, inp]
        .iter()
        .any(|s| s.contains(char::is_whitespace) || s.contains('='))
    {
        return Err(bad("column names cannot contain spaces or `=`"));
    }
    Ok(ColumnPair {
        output: out.to_string(),
        input: inp.to_string(),
    })
}

/// Turns any iterable of string-likes into owned strings.
pub(crate) fn strings<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    items.into_iter().map(|s| s.as_ref().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        assert_eq!(
            parse_pair("LastPrice = Price").unwrap(),
            ColumnPair {
                output: "LastPrice".into(),
                input: "Price".into()
            }
        );
        assert_eq!(parse_pair("Qty").unwrap().input, "Qty");
        assert!(parse_pair(" = Price").is_err());
        assert!(parse_pair("A B = C").is_err());
    }
}
