//! Which ruleset files the studio may open and save: `.rules` files under the server's rulesets
//! folder, named by their path relative to it (`news2/news2.rules`). Saving keeps the previous
//! version in a `.history/` folder beside the file (`news2.rules.20261124T101500.123Z`, which the
//! loader ignores: it reads only `.rules` files) and writes the new text atomically.

use std::path::{Component, Path, PathBuf};

use crate::outcome::ApiError;

/// The rulesets folder as the studio sees it.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

/// A ruleset file of the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesFile {
    /// Its id: the path relative to the root, `/`-separated.
    pub id: String,
    /// Its path on disk.
    pub path: PathBuf,
}

impl RulesFile {
    /// The folder holding it (its ruleset folder: `tests/`, `valuesets/`, `.history/`).
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

impl Workspace {
    /// The workspace of a rulesets path (a folder, or one `.rules` file: its folder).
    pub fn new(rulesets: &Path) -> Workspace {
        let root = if rulesets.is_file() {
            rulesets.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            rulesets.to_path_buf()
        };
        Workspace { root }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every `.rules` file under the root, sorted by id.
    pub fn files(&self) -> Result<Vec<RulesFile>, ApiError> {
        let paths = cds_rules::engine::rules_files(&self.root).map_err(|e| {
            tracing::warn!(error = %e, "studio: cannot list the rulesets folder");
            ApiError::internal("the rulesets folder cannot be read; see the server log")
        })?;
        let mut out: Vec<RulesFile> = paths
            .into_iter()
            .filter_map(|p| {
                let id = self.id_of(&p)?;
                Some(RulesFile { id, path: p })
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    fn id_of(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
        Some(parts?.join("/"))
    }

    /// The file an id names. Refused (400): absolute paths, `..`, hidden folders, anything not
    /// ending in `.rules`. With `must_exist`, a file that is not there is a 404; otherwise a
    /// new file is allowed where its folder exists (a new ruleset in its own folder).
    pub fn file(&self, id: &str, must_exist: bool) -> Result<RulesFile, ApiError> {
        let bad = |m: &str| ApiError::invalid_at("file", m.to_string());
        if id.is_empty() || id.len() > 300 || id.contains('\\') || id.contains('\0') {
            return Err(bad(
                "a ruleset file is a relative path such as news2/news2.rules",
            ));
        }
        let rel = Path::new(id);
        let plain = rel.components().all(|c| match c {
            Component::Normal(s) => s.to_str().is_some_and(|s| !s.starts_with('.')),
            _ => false,
        });
        if !plain {
            return Err(bad(
                "a ruleset file is a relative path inside the rulesets folder, without `..` or hidden folders",
            ));
        }
        if rel.extension().is_none_or(|e| e != "rules") {
            return Err(bad("a ruleset file ends in .rules"));
        }
        let path = self.root.join(rel);
        if path.is_file() {
            // A symbolic link out of the folder is not the workspace's.
            let inside = match (path.canonicalize(), self.root.canonicalize()) {
                (Ok(p), Ok(r)) => p.starts_with(r),
                _ => false,
            };
            if !inside {
                return Err(bad("that file is outside the rulesets folder"));
            }
        } else if must_exist {
            return Err(ApiError::not_found(format!("no ruleset file {id}")));
        } else if !path.parent().is_some_and(Path::is_dir) {
            return Err(bad(
                "a new ruleset goes into an existing folder (create the folder first)",
            ));
        }
        Ok(RulesFile {
            id: id.to_string(),
            path,
        })
    }

    /// The previous versions of a file, newest first (ids relative to the root).
    pub fn history(&self, file: &RulesFile) -> Vec<String> {
        let dir = file.dir().join(".history");
        let Some(name) = file.path.file_name().and_then(|n| n.to_str()) else {
            return Vec::new();
        };
        let prefix = format!("{name}.");
        let mut found: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.starts_with(&prefix))
            .collect();
        found.sort_unstable_by(|a, b| b.cmp(a));
        found
            .into_iter()
            .filter_map(|n| self.id_of(&dir.join(n)))
            .collect()
    }

    /// Writes `text` to the file: the previous version (if any) is copied to `.history/`
    /// first, then the new text is written to a temporary file and renamed over the old one,
    /// so a reader sees the old or the new file, never half of one. At most `keep` previous
    /// versions are kept. Returns the backup's id.
    pub fn save(
        &self,
        file: &RulesFile,
        text: &str,
        keep: usize,
    ) -> std::io::Result<Option<String>> {
        let dir = file.dir();
        let name = file
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("ruleset.rules")
            .to_string();
        let mut backup = None;
        if file.path.is_file() && keep > 0 {
            let history = dir.join(".history");
            std::fs::create_dir_all(&history)?;
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
            let target = history.join(format!("{name}.{stamp}"));
            std::fs::copy(&file.path, &target)?;
            backup = self.id_of(&target);
            // Oldest beyond `keep` go.
            let all = self.history(file);
            for old in all.iter().skip(keep) {
                let _ = std::fs::remove_file(self.root.join(old));
            }
        }
        let tmp = dir.join(format!(".{name}.saving"));
        std::fs::write(&tmp, text)?;
        if let Err(e) = std::fs::rename(&tmp, &file.path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(backup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cds-studio-ws-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bp/tests")).unwrap();
        std::fs::write(dir.join("bp/bp.rules"), "ruleset bp version 1.0.0\n").unwrap();
        dir
    }

    #[test]
    fn ids_are_relative_paths_inside_the_folder() {
        let dir = scratch("ids");
        let ws = Workspace::new(&dir);
        let files = ws.files().unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].id, "bp/bp.rules");
        assert_eq!(ws.file("bp/bp.rules", true).unwrap(), files[0]);
        for bad in [
            "../bp/bp.rules",
            "/etc/passwd.rules",
            "bp/../../x.rules",
            "bp/bp.txt",
            ".history/x.rules",
            "bp\\bp.rules",
            "",
        ] {
            let e = ws.file(bad, false).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{bad}");
        }
        assert_eq!(
            ws.file("bp/other.rules", true).unwrap_err().status.as_u16(),
            404
        );
        assert!(ws.file("bp/other.rules", false).is_ok());
        assert_eq!(
            ws.file("nofolder/x.rules", false)
                .unwrap_err()
                .status
                .as_u16(),
            400
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn saving_keeps_previous_versions_up_to_the_limit() {
        let dir = scratch("save");
        let ws = Workspace::new(&dir);
        let f = ws.file("bp/bp.rules", true).unwrap();
        let mut backups = Vec::new();
        for v in 2..=5 {
            let text = format!("ruleset bp version {v}.0.0\n");
            backups.push(ws.save(&f, &text, 2).unwrap().unwrap());
            assert_eq!(std::fs::read_to_string(&f.path).unwrap(), text);
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
        let history = ws.history(&f);
        assert_eq!(history.len(), 2, "{history:?}");
        assert_eq!(history[0], backups[3]);
        let newest_backup = std::fs::read_to_string(dir.join(&history[0])).unwrap();
        assert_eq!(newest_backup, "ruleset bp version 4.0.0\n");
        // The loader does not see backups or the temporary file.
        assert_eq!(ws.files().unwrap().len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
