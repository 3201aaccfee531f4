//! `serve --state-dir DIR`: the pipelines created over the API, one TOML
//! file each (`DIR/NAME.toml`, as it was given), so that they start again
//! when `serve` does.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A directory of pipeline definitions.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Uses (and creates) `dir`.
    pub fn open(dir: &Path) -> std::io::Result<StateDir> {
        std::fs::create_dir_all(dir)?;
        Ok(StateDir {
            dir: dir.to_path_buf(),
        })
    }

    /// Where the definition of pipeline `name` is kept.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.toml"))
    }

    /// Every stored pipeline as `(name, TOML text)`, by name.
    pub fn load_all(&self) -> std::io::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml")
                && let Some(name) = path.file_stem().and_then(|s| s.to_str())
            {
                out.push((name.to_string(), std::fs::read_to_string(&path)?));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Stores `text` as pipeline `name`, atomically: a new file is written
    /// and synced, then renamed over the old one, so a crash leaves either
    /// the old definition or the new one, never half of one.
    pub fn save(&self, name: &str, text: &str) -> std::io::Result<()> {
        let tmp = self.dir.join(format!(".{name}.toml.tmp"));
        {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, self.path_of(name))?;
        // The rename itself is durable once the directory is synced.
        std::fs::File::open(&self.dir)?.sync_all()
    }

    /// Forgets pipeline `name`.
    pub fn remove(&self, name: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path_of(name)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_replaces_lists_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("state")).unwrap();
        state.save("b", "one").unwrap();
        state.save("a", "two").unwrap();
        state.save("b", "three").unwrap();
        assert_eq!(
            state.load_all().unwrap(),
            vec![("a".into(), "two".into()), ("b".into(), "three".into())]
        );
        state.remove("a").unwrap();
        state.remove("a").unwrap();
        assert_eq!(
            state.load_all().unwrap(),
            vec![("b".into(), "three".into())]
        );
        let names: Vec<_> = std::fs::read_dir(dir.path().join("state"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["b.toml"], "no temporary file is left behind");
    }
}
