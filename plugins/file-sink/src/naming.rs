//! File names: `{prefix}-{n:06}.{ext}` when finished, `.{prefix}-{n:06}.{ext}.tmp` while written.

use std::path::{Path, PathBuf};

use topictable_sdk::PluginError;

use crate::config::Format;

/// Names the files of one sink.
#[derive(Debug, Clone)]
pub struct Naming {
    dir: PathBuf,
    prefix: String,
    ext: &'static str,
}

impl Naming {
    /// Files named with `prefix` and `format`'s extension, in `dir`.
    pub fn new(dir: &Path, prefix: &str, format: Format) -> Self {
        Self {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            ext: format.name(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The finished file number `n`.
    pub fn final_path(&self, n: u64) -> PathBuf {
        self.dir
            .join(format!("{}-{n:06}.{}", self.prefix, self.ext))
    }

    /// The file number `n` while it is written.
    pub fn temp_path(&self, n: u64) -> PathBuf {
        self.dir
            .join(format!(".{}-{n:06}.{}.tmp", self.prefix, self.ext))
    }

    /// The number in a final or temporary name of this sink, if `name` is one.
    pub fn number_of(&self, name: &str) -> Option<u64> {
        let rest = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".tmp"))
            .unwrap_or(name);
        let digits = rest
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('-')?
            .strip_suffix(self.ext)?
            .strip_suffix('.')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// The number after every final or temporary file already in the directory (1 in an empty one).
    ///
    /// Temporary leftovers count too, so a crashed writer's `.tmp` file is never overwritten.
    pub fn next_number(&self) -> Result<u64, PluginError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| {
            PluginError::failed(format!("cannot list directory {}: {e}", self.dir.display()))
        })?;
        let mut last = 0;
        for entry in entries {
            let entry = entry.map_err(|e| {
                PluginError::failed(format!("cannot list directory {}: {e}", self.dir.display()))
            })?;
            if let Some(n) = entry.file_name().to_str().and_then(|n| self.number_of(n)) {
                last = last.max(n);
            }
        }
        Ok(last + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        let naming = Naming::new(Path::new("/d"), "part", Format::Parquet);
        assert_eq!(naming.final_path(7), Path::new("/d/part-000007.parquet"));
        assert_eq!(
            naming.temp_path(7),
            Path::new("/d/.part-000007.parquet.tmp")
        );
        assert_eq!(naming.number_of("part-000007.parquet"), Some(7));
        assert_eq!(naming.number_of(".part-000012.parquet.tmp"), Some(12));
        assert_eq!(naming.number_of("part-1234567.parquet"), Some(1_234_567));
        for other in [
            "part-000007.csv",
            "parts-000007.parquet",
            "part-.parquet",
            "part-00x7.parquet",
            ".part-000007.parquet",
            "part-000007.parquet.tmp",
            "other-000001.parquet",
        ] {
            assert_eq!(naming.number_of(other), None, "{other}");
        }
    }
}
