//! The decoder's plan, built once: a tree of JSON field names leading to columns.

use std::collections::{BTreeMap, HashMap};

use topictable_sdk::PluginError;
use topictable_sdk::config::closest;

use crate::{ColumnDef, JsonType};

/// Above this many fields an object looks names up in a hash map, not a list.
const LINEAR_LOOKUP_MAX: usize = 12;

/// What one JSON field feeds: a column, deeper pointer paths, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Target {
    /// The column that takes the field's value.
    pub column: Option<usize>,
    /// The node whose fields are read inside the field's value.
    pub child: Option<usize>,
}

/// The fields read at one level of the document.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    names: Vec<Box<str>>,
    pub targets: Vec<Target>,
    index: Option<HashMap<Box<str>, usize>>,
}

impl Node {
    /// The entry named `key`, trying entry `guess` first (documents tend to
    /// list their fields in the same order, so the guess is usually right).
    #[inline]
    pub fn find(&self, key: &str, guess: usize) -> Option<usize> {
        if let Some(name) = self.names.get(guess)
            && same(name.as_bytes(), key.as_bytes())
        {
            return Some(guess);
        }
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self
                .names
                .iter()
                .position(|n| same(n.as_bytes(), key.as_bytes())),
        }
    }

    /// The name of entry `at`.
    #[inline]
    pub fn name(&self, at: usize) -> Option<&str> {
        self.names.get(at).map(|n| n.as_ref())
    }

    fn entry(&mut self, name: &str) -> &mut Target {
        let at = match self.names.iter().position(|n| n.as_ref() == name) {
            Some(at) => at,
            None => {
                self.names.push(name.into());
                self.targets.push(Target::default());
                self.names.len() - 1
            }
        };
        &mut self.targets[at]
    }

    fn seal(&mut self) {
        if self.names.len() > LINEAR_LOOKUP_MAX {
            self.index = Some(
                self.names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.clone(), i))
                    .collect(),
            );
        }
    }
}

/// Byte equality tuned for short field names: an inline loop, no `memcmp` call.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// One output column and how errors about it are labelled.
#[derive(Debug, Clone)]
pub(crate) struct ColumnMeta {
    pub kind: JsonType,
    /// `field "qty" (column Qty, int64)`, the prefix of every row error about it.
    pub label: String,
}

/// The columns and the field tree (node 0 is the document).
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub nodes: Vec<Node>,
    pub columns: Vec<ColumnMeta>,
}

impl Plan {
    /// Resolves `mapping` (field or pointer → column) against `columns`.
    pub fn new(
        columns: &[ColumnDef],
        mapping: &BTreeMap<String, String>,
    ) -> Result<Self, PluginError> {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        for (i, c) in columns.iter().enumerate() {
            if names[..i].contains(&c.name.as_str()) {
                return Err(PluginError::config(format!(
                    "json: column `{}` is defined twice",
                    c.name
                )));
            }
        }
        let mut field_of: Vec<Option<&str>> = vec![None; columns.len()];
        for (field, column) in mapping {
            let Some(i) = names.iter().position(|n| n == column) else {
                let hint = closest(column, names.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(PluginError::config(format!(
                    "json: mapping \"{field}\" → `{column}`: no such column{hint}; the columns are {}",
                    names.join(", ")
                )));
            };
            if let Some(other) = field_of[i] {
                return Err(PluginError::config(format!(
                    "json: column `{column}` is mapped from both \"{other}\" and \"{field}\""
                )));
            }
            field_of[i] = Some(field);
        }
        let mut plan = Plan {
            nodes: vec![Node::default()],
            columns: Vec::with_capacity(columns.len()),
        };
        for (i, c) in columns.iter().enumerate() {
            let field = field_of[i].unwrap_or(&c.name);
            let path = if field.starts_with('/') {
                parse_pointer(field)
                    .map_err(|e| PluginError::config(format!("json: mapping \"{field}\": {e}")))?
            } else {
                vec![field.to_string()]
            };
            let (last, parents) = path.split_last().expect("a path has one segment or more");
            let mut node = 0;
            for segment in parents {
                let next = plan.nodes.len();
                let target = plan.nodes[node].entry(segment);
                node = match target.child {
                    Some(child) => child,
                    None => {
                        target.child = Some(next);
                        plan.nodes.push(Node::default());
                        next
                    }
                };
            }
            let target = plan.nodes[node].entry(last);
            if let Some(other) = target.column {
                return Err(PluginError::config(format!(
                    "json: field \"{field}\" would feed both column `{}` and column `{}`; map one of them to another field",
                    columns[other].name, c.name
                )));
            }
            target.column = Some(i);
            plan.columns.push(ColumnMeta {
                kind: c.kind,
                label: format!(
                    "field {} (column {}, {})",
                    serde_json::Value::from(field),
                    c.name,
                    c.kind.name()
                ),
            });
        }
        plan.nodes.iter_mut().for_each(Node::seal);
        Ok(plan)
    }
}

/// The reference tokens of a JSON Pointer (RFC 6901) such as `/order/price`.
pub(crate) fn parse_pointer(pointer: &str) -> Result<Vec<String>, String> {
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err("a JSON Pointer starts with /".into());
    };
    rest.split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                match (c, c == '~') {
                    (_, false) => out.push(c),
                    (_, true) => match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => {
                            return Err(format!(
                                "`~` must be followed by 0 or 1 in JSON Pointer token \"{token}\""
                            ));
                        }
                    },
                }
            }
            Ok(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_unescape_and_reject_bad_escapes() {
        assert_eq!(parse_pointer("/order/price").unwrap(), ["order", "price"]);
        assert_eq!(parse_pointer("/a~1b/c~0d").unwrap(), ["a/b", "c~d"]);
        assert_eq!(parse_pointer("/").unwrap(), [""]);
        assert!(parse_pointer("/a~2").is_err());
        assert!(parse_pointer("a").is_err());
    }

    #[test]
    fn lookup_uses_the_guess_then_searches() {
        let mut node = Node::default();
        for n in ["a", "b", "c"] {
            node.entry(n);
        }
        assert_eq!(node.find("b", 1), Some(1));
        assert_eq!(node.find("c", 0), Some(2));
        assert_eq!(node.find("z", 3), None);
        let mut big = Node::default();
        for i in 0..20 {
            big.entry(&format!("f{i}"));
        }
        big.seal();
        assert_eq!(big.find("f17", 0), Some(17));
        assert_eq!(big.find("nope", 0), None);
    }
}
