//! All loaded plugins, and their codecs and sinks by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use topictable_sdk::abi::{FfiObjectCounts, ForeignCodec, ForeignSinkFactory, PluginModuleRef};
use topictable_sdk::{
    Codec, CodecDescription, ConfigError, Decoder, PluginError, Side, SinkDescription, SinkFactory,
};

use super::{LoadError, PluginInfo, load_library};

/// A codec offered by a loaded plugin.
#[derive(Clone)]
pub struct CodecEntry {
    /// What the codec says about itself.
    pub description: CodecDescription,
    /// The codec.
    pub codec: Arc<dyn Codec>,
}

/// A sink offered by a loaded plugin.
#[derive(Clone)]
pub struct SinkEntry {
    /// What the sink says about itself.
    pub description: SinkDescription,
    /// The factory.
    pub factory: Arc<dyn SinkFactory>,
}

/// One loaded plugin library.
pub struct LoadedPlugin {
    /// The file it was loaded from.
    pub path: PathBuf,
    /// Its name and versions.
    pub info: PluginInfo,
    /// Its codecs (including any refused as duplicates).
    pub codecs: Vec<CodecEntry>,
    /// Its sinks.
    pub sinks: Vec<SinkEntry>,
    module: PluginModuleRef,
}

impl LoadedPlugin {
    /// How many objects the plugin has made and released so far.
    pub fn object_counts(&self) -> FfiObjectCounts {
        self.counter().get()
    }

    /// A handle that reads the plugin's object counts, usable after the
    /// registry is gone (the library itself is never unloaded).
    pub fn counter(&self) -> PluginCounter {
        PluginCounter(self.module)
    }
}

/// Reads one plugin's object counts (see [`LoadedPlugin::counter`]).
#[derive(Clone, Copy)]
pub struct PluginCounter(PluginModuleRef);

impl PluginCounter {
    /// The plugin's counts now.
    pub fn get(&self) -> FfiObjectCounts {
        (self.0.object_counts())()
    }
}

/// Why a decoder could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// No loaded plugin offers the format (or sink).
    #[error("no plugin offers `{format}`{}; loaded formats: {known}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownFormat {
        /// The format asked for.
        format: String,
        /// A close known format.
        suggestion: Option<String>,
        /// All known formats.
        known: String,
    },
    /// The config does not match the codec's description.
    #[error("invalid config for format `{format}`: {}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidConfig {
        /// The format.
        format: String,
        /// Every problem found.
        errors: Vec<ConfigError>,
    },
    /// The plugin refused to create it.
    #[error("format `{format}`: {source}")]
    Plugin {
        /// The format.
        format: String,
        /// The plugin's error.
        source: PluginError,
    },
}

/// Every plugin loaded from a directory, by name.
#[derive(Default)]
pub struct PluginRegistry {
    plugins: Vec<LoadedPlugin>,
    codecs: BTreeMap<String, (usize, CodecEntry)>,
    sinks: BTreeMap<String, (usize, SinkEntry)>,
}

/// Whether `path` looks like a shared library on any platform.
fn is_library(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("so" | "dylib" | "dll")
    )
}

impl PluginRegistry {
    /// Loads every library in `dir` (sorted by file name). Returns the
    /// registry and one error per file that was refused.
    pub fn load_dir(dir: &Path) -> (Self, Vec<LoadError>) {
        let mut registry = Self::default();
        let mut errors = Vec::new();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_library(p))
                .collect(),
            Err(e) => {
                return (
                    registry,
                    vec![LoadError::Directory {
                        path: dir.to_path_buf(),
                        reason: e.to_string(),
                    }],
                );
            }
        };
        files.sort();
        for file in files {
            if let Err(e) = registry.load_file(&file, &mut errors) {
                errors.push(e);
            }
        }
        (registry, errors)
    }

    /// Loads one library. Duplicate names it offers go to `warnings`; the rest registers.
    pub fn load_file(
        &mut self,
        path: &Path,
        warnings: &mut Vec<LoadError>,
    ) -> Result<(), LoadError> {
        let (module, info) = load_library(path)?;
        let init_failed = |message: String| LoadError::InitFailed {
            path: path.to_path_buf(),
            message,
        };
        let codec_factories = (module.codec_factories())()
            .into_result()
            .map_err(|e| init_failed(e.message.into_string()))?;
        let sink_factories = (module.sink_factories())()
            .into_result()
            .map_err(|e| init_failed(e.message.into_string()))?;
        let mut codecs = Vec::new();
        for ffi in codec_factories {
            let codec = ForeignCodec::new(ffi).map_err(|e| init_failed(e.to_string()))?;
            codecs.push(CodecEntry {
                description: codec.description(),
                codec: Arc::new(codec),
            });
        }
        let mut sinks = Vec::new();
        for ffi in sink_factories {
            let factory = ForeignSinkFactory::new(ffi).map_err(|e| init_failed(e.to_string()))?;
            sinks.push(SinkEntry {
                description: factory.description(),
                factory: Arc::new(factory),
            });
        }
        let index = self.plugins.len();
        for entry in &codecs {
            let name = entry.description.format.clone();
            match self.codecs.get(&name) {
                Some((first, _)) => warnings.push(LoadError::Duplicate {
                    kind: "format",
                    name,
                    first: self.plugins[*first].path.clone(),
                    second: path.to_path_buf(),
                }),
                None => {
                    self.codecs.insert(name, (index, entry.clone()));
                }
            }
        }
        for entry in &sinks {
            let name = entry.description.name.clone();
            match self.sinks.get(&name) {
                Some((first, _)) => warnings.push(LoadError::Duplicate {
                    kind: "sink",
                    name,
                    first: self.plugins[*first].path.clone(),
                    second: path.to_path_buf(),
                }),
                None => {
                    self.sinks.insert(name, (index, entry.clone()));
                }
            }
        }
        tracing::debug!(plugin = %info.name, path = %path.display(), "loaded plugin");
        self.plugins.push(LoadedPlugin {
            path: path.to_path_buf(),
            info,
            codecs,
            sinks,
            module,
        });
        Ok(())
    }

    /// The loaded plugins, in load order.
    pub fn plugins(&self) -> &[LoadedPlugin] {
        &self.plugins
    }

    /// The codec registered for `format`.
    pub fn codec(&self, format: &str) -> Option<&CodecEntry> {
        self.codecs.get(format).map(|(_, e)| e)
    }

    /// The sink registered as `name`.
    pub fn sink(&self, name: &str) -> Option<&SinkEntry> {
        self.sinks.get(name).map(|(_, e)| e)
    }

    /// The plugin that registered `format`.
    pub fn plugin_of_format(&self, format: &str) -> Option<&LoadedPlugin> {
        self.codecs.get(format).map(|(i, _)| &self.plugins[*i])
    }

    /// The sink factory registered as `name`, with `config` validated against its description.
    pub fn new_sink(
        &self,
        name: &str,
        config: &Value,
        schema: topictable_sdk::arrow_schema::SchemaRef,
    ) -> Result<Box<dyn topictable_sdk::Sink>, CreateError> {
        let entry = self.sink(name).ok_or_else(|| CreateError::UnknownFormat {
            format: name.to_string(),
            suggestion: topictable_sdk::config::closest(
                name,
                self.sinks.keys().map(String::as_str),
            ),
            known: self.sinks.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
        let config = entry
            .description
            .config
            .validate(config)
            .map_err(|errors| CreateError::InvalidConfig {
                format: name.to_string(),
                errors,
            })?;
        entry
            .factory
            .new_sink(&config, schema)
            .map_err(|source| CreateError::Plugin {
                format: name.to_string(),
                source,
            })
    }

    /// Validates `config` against the codec's description, then creates an encoder for rows of `schema`.
    pub fn new_encoder(
        &self,
        format: &str,
        config: &Value,
        side: Side,
        schema: topictable_sdk::arrow_schema::SchemaRef,
    ) -> Result<Box<dyn topictable_sdk::Encoder>, CreateError> {
        let entry = self.codec_entry(format)?;
        let config = entry
            .description
            .config
            .validate(config)
            .map_err(|errors| CreateError::InvalidConfig {
                format: format.to_string(),
                errors,
            })?;
        entry
            .codec
            .new_encoder(&config, side, schema)
            .map_err(|source| CreateError::Plugin {
                format: format.to_string(),
                source,
            })
    }

    fn codec_entry(&self, format: &str) -> Result<&CodecEntry, CreateError> {
        self.codec(format)
            .ok_or_else(|| CreateError::UnknownFormat {
                format: format.to_string(),
                suggestion: topictable_sdk::config::closest(
                    format,
                    self.codecs.keys().map(String::as_str),
                ),
                known: self.codecs.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    /// `config` with its `topic` key set to `topic`, when the codec has such a
    /// key (the Confluent codecs name their registry subject after it) and
    /// `config` leaves it unset. So `format = "avro"` on a table reading topic
    /// `prices` finds subject `prices-value` with no more said, as
    /// Confluent's deserializers do.
    pub fn with_topic_default(&self, format: &str, config: &Value, topic: &str) -> Value {
        let declares_topic = self
            .codec(format)
            .is_some_and(|e| e.description.config.keys.iter().any(|k| k.name == "topic"));
        match config {
            Value::Object(map) if declares_topic && !map.contains_key("topic") => {
                let mut map = map.clone();
                map.insert("topic".into(), Value::String(topic.to_string()));
                Value::Object(map)
            }
            Value::Null if declares_topic => serde_json::json!({ "topic": topic }),
            _ => config.clone(),
        }
    }

    /// Validates `config` against the codec's description, then creates a decoder.
    pub fn new_decoder(
        &self,
        format: &str,
        config: &Value,
        side: Side,
    ) -> Result<Box<dyn Decoder>, CreateError> {
        let entry = self.codec_entry(format)?;
        let config = entry
            .description
            .config
            .validate(config)
            .map_err(|errors| CreateError::InvalidConfig {
                format: format.to_string(),
                errors,
            })?;
        entry
            .codec
            .new_decoder(&config, side)
            .map_err(|source| CreateError::Plugin {
                format: format.to_string(),
                source,
            })
    }
}
