//! Where descriptors come from: the registry (`.proto` text or base64
//! `FileDescriptorProto`, with references as imports), a `FileDescriptorSet`
//! file, or `.proto` files compiled in-process with protox; and how
//! Confluent message indexes name a message in a file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use prost::Message;
use prost_reflect::{DescriptorPool, FileDescriptor, MessageDescriptor};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use topictable_schema_registry::ResolvedSchema;

/// A compiled schema: its pool and the file a registry id (or config) names.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// Every file, imports included.
    pub pool: DescriptorPool,
    /// The main file's name in `pool`.
    pub file: String,
}

impl Compiled {
    /// The main file.
    pub fn file(&self) -> FileDescriptor {
        self.pool
            .get_file_by_name(&self.file)
            .expect("the main file is in its pool")
    }

    /// The message named `name`, or the file's first message.
    pub fn message(&self, name: Option<&str>) -> Result<MessageDescriptor, String> {
        match name {
            Some(n) => {
                let n = n.strip_prefix('.').unwrap_or(n);
                self.pool.get_message_by_name(n).ok_or_else(|| {
                    let known: Vec<String> = self
                        .file()
                        .messages()
                        .map(|m| m.full_name().to_string())
                        .collect();
                    format!(
                        "no message `{n}` in the schema (its file `{}` has {})",
                        self.file,
                        if known.is_empty() {
                            "no messages".to_string()
                        } else {
                            known.join(", ")
                        }
                    )
                })
            }
            None => self
                .file()
                .messages()
                .next()
                .ok_or_else(|| format!("the schema's file `{}` has no message", self.file)),
        }
    }
}

/// Files by import name, served to protox.
struct MapResolver(HashMap<String, File>);

impl FileResolver for MapResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.0.get(name) {
            // protox takes the file by value; parsing is cheap next to fetching it.
            Some(f) => Ok(clone_file(name, f)),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

fn clone_file(name: &str, f: &File) -> File {
    match f.source() {
        Some(src) => File::from_source(name, src).expect("parsed once already"),
        None => File::from_file_descriptor_proto(f.file_descriptor_proto().clone()),
    }
}

/// Whether a registry schema text is a base64 serialized `FileDescriptorProto`
/// (what confluent-kafka for Python registers) rather than `.proto` text.
fn is_base64_descriptor(text: &str) -> bool {
    let t = text.trim();
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
}

/// Parses one registry schema text as the file `name`.
fn parse_text(name: &str, text: &str) -> Result<File, String> {
    if is_base64_descriptor(text) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("`{name}`: not .proto text, and not base64: {e}"))?;
        let mut proto =
            prost_types::FileDescriptorProto::decode(bytes.as_slice()).map_err(|e| {
                format!("`{name}`: base64 text is not a serialized FileDescriptorProto: {e}")
            })?;
        // Imports name files by the reference's name, whatever the file calls itself.
        proto.name = Some(name.to_string());
        Ok(File::from_file_descriptor_proto(proto))
    } else {
        File::from_source(name, text).map_err(|e| format!("`{name}`: {e}"))
    }
}

/// The name a base64 `FileDescriptorProto` gives itself.
fn descriptor_name(text: &str) -> Option<String> {
    if !is_base64_descriptor(text) {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    prost_types::FileDescriptorProto::decode(bytes.as_slice())
        .ok()?
        .name
        .filter(|n| !n.is_empty())
}

/// Compiles a registry schema and its references into a pool.
pub fn from_registry(schema: &ResolvedSchema) -> Result<Compiled, String> {
    let mut files = HashMap::new();
    fn walk(s: &ResolvedSchema, files: &mut HashMap<String, File>) -> Result<(), String> {
        for r in &s.references {
            if !files.contains_key(&r.reference.name) {
                let f = parse_text(&r.reference.name, &r.resolved.schema.schema)?;
                files.insert(r.reference.name.clone(), f);
                walk(&r.resolved, files)?;
            }
        }
        Ok(())
    }
    walk(schema, &mut files)?;
    let text = &schema.schema.schema;
    // The main file's own name when it has one (a descriptor), else a name of ours.
    let main_name = descriptor_name(text)
        .filter(|n| !files.contains_key(n))
        .unwrap_or_else(|| format!("registry-schema-{}.proto", schema.id.unwrap_or(0)));
    let main = parse_text(&main_name, text)?;
    files.insert(main_name.clone(), main);
    compile(MapResolver(files), &[main_name])
}

fn compile(resolver: impl FileResolver + 'static, roots: &[String]) -> Result<Compiled, String> {
    let mut chain = ChainFileResolver::new();
    chain.add(resolver);
    chain.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(chain);
    compiler.include_imports(true);
    for r in roots {
        compiler.open_file(r).map_err(|e| e.to_string())?;
    }
    Ok(Compiled {
        pool: compiler.descriptor_pool(),
        file: roots.first().cloned().unwrap_or_default(),
    })
}

/// Compiles inline `.proto` text.
pub fn from_text(text: &str) -> Result<Compiled, String> {
    let name = "inline.proto".to_string();
    let file = File::from_source(&name, text).map_err(|e| format!("`schema`: {e}"))?;
    compile(MapResolver(HashMap::from([(name.clone(), file)])), &[name])
}

/// Reads a serialized `FileDescriptorSet`; its last file is the main one.
pub fn from_descriptor_set(path: &str) -> Result<Compiled, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("descriptor_set `{path}`: {e}"))?;
    let set = prost_types::FileDescriptorSet::decode(bytes.as_slice())
        .map_err(|e| format!("descriptor_set `{path}`: not a FileDescriptorSet: {e}"))?;
    let last = set
        .file
        .last()
        .and_then(|f| f.name.clone())
        .ok_or_else(|| format!("descriptor_set `{path}` holds no file"))?;
    let mut pool = DescriptorPool::new();
    // Sets written without --include_imports still resolve the well-known types.
    let missing_google = set.file.iter().any(|f| {
        f.dependency
            .iter()
            .any(|d| d.starts_with("google/protobuf/") && !set.file.iter().any(|g| g.name() == d))
    });
    if missing_google {
        let mut files = HashMap::new();
        for f in &set.file {
            files.insert(
                f.name().to_string(),
                File::from_file_descriptor_proto(f.clone()),
            );
        }
        return compile(MapResolver(files), &[last])
            .map_err(|e| format!("descriptor_set `{path}`: {e}"));
    }
    pool.add_file_descriptor_set(set)
        .map_err(|e| format!("descriptor_set `{path}`: {e}"))?;
    Ok(Compiled { pool, file: last })
}

/// Compiles `.proto` files from disk; the first is the main one.
pub fn from_proto_files(files: &[String], includes: &[String]) -> Result<Compiled, String> {
    let mut includes: Vec<PathBuf> = includes.iter().map(PathBuf::from).collect();
    if includes.is_empty() {
        for f in files {
            let dir = Path::new(f).parent().unwrap_or(Path::new("."));
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if !includes.iter().any(|i| i == dir) {
                includes.push(dir.to_path_buf());
            }
        }
    }
    let mut compiler = protox::Compiler::new(&includes).map_err(|e| e.to_string())?;
    compiler.include_imports(true);
    let mut main = None;
    for f in files {
        compiler
            .open_file(f)
            .map_err(|e| format!("proto_files `{f}`: {e}"))?;
        if main.is_none() {
            main = compiler.files().last().map(|m| m.name().to_string());
        }
    }
    Ok(Compiled {
        pool: compiler.descriptor_pool(),
        file: main.ok_or("proto_files is empty")?,
    })
}

/// The message that Confluent message indexes name in `file`: `[1]` is the
/// second top-level message, `[1, 0]` the first message nested in it.
pub fn message_at(file: &FileDescriptor, indexes: &[i32]) -> Result<MessageDescriptor, String> {
    let describe = |upto: usize| format!("{:?}", &indexes[..upto]);
    let (&first, rest) = indexes.split_first().ok_or("empty message-index array")?;
    let count = file.messages().len();
    let mut m = file.messages().nth(first as usize).ok_or_else(|| {
        format!(
            "message index {} does not exist: file `{}` has {count} top-level message(s)",
            describe(1),
            file.name()
        )
    })?;
    for (depth, &i) in rest.iter().enumerate() {
        let n = m.child_messages().len();
        let next = m.child_messages().nth(i as usize);
        m = next.ok_or_else(|| {
            format!(
                "message index {} does not exist: `{}` has {n} nested message(s)",
                describe(depth + 2),
                m.full_name()
            )
        })?;
    }
    Ok(m)
}

/// The message indexes of `message` within its file (the inverse of [`message_at`]).
pub fn indexes_of(message: &MessageDescriptor) -> Vec<i32> {
    let mut out = Vec::new();
    let mut current = message.clone();
    while let Some(parent) = current.parent_message() {
        let i = parent
            .child_messages()
            .position(|c| c == current)
            .unwrap_or(0);
        out.push(i as i32);
        current = parent;
    }
    let file = current.parent_file();
    out.push(file.messages().position(|c| c == current).unwrap_or(0) as i32);
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_indexes_name_nested_messages_both_ways() {
        let c = from_text(
            "syntax = \"proto3\"; package p; message A {} message B { message C {} map<string, int32> m = 1; message D {} }",
        )
        .unwrap();
        let file = c.file();
        for (indexes, name) in [
            (&[0][..], "p.A"),
            (&[1], "p.B"),
            (&[1, 0], "p.B.C"),
            // Map entries are nested messages too, as in Confluent's numbering.
            (&[1, 1], "p.B.MEntry"),
            (&[1, 2], "p.B.D"),
        ] {
            let m = message_at(&file, indexes).unwrap();
            assert_eq!(m.full_name(), name);
            assert_eq!(indexes_of(&m), indexes);
        }
        assert_eq!(
            message_at(&file, &[2]).unwrap_err(),
            "message index [2] does not exist: file `inline.proto` has 2 top-level message(s)"
        );
        assert_eq!(
            message_at(&file, &[0, 0]).unwrap_err(),
            "message index [0, 0] does not exist: `p.A` has 0 nested message(s)"
        );
    }

    #[test]
    fn base64_descriptors_are_told_from_proto_text() {
        assert!(is_base64_descriptor("CgdhLnByb3RvEgFw"));
        assert!(!is_base64_descriptor("syntax = \"proto3\";"));
        assert!(!is_base64_descriptor(""));
    }
}
