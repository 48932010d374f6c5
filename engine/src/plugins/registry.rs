//! The loaded plugins by id, where each came from, and the files left out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Plugin, PluginError, ProviderInfo};

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Bundled with the server.
    FirstParty,
    /// A file in the operator's plugins directory.
    File(PathBuf),
    /// Bytes an embedding program handed over.
    Embedded,
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::FirstParty => write!(f, "the first-party plugin"),
            // The name alone: this text reaches API answers, the full path only the log.
            PluginSource::File(path) => {
                write!(f, "the file {}", path.file_name().unwrap_or(path.as_os_str()).to_string_lossy())
            }
            PluginSource::Embedded => write!(f, "an embedded plugin"),
        }
    }
}

/// A plugin file that did not load. Its id is the file's stem: a file the host
/// cannot run cannot be asked for its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedPlugin {
    pub id: String,
    /// The full path: for the log only, never an answer.
    pub file: String,
    pub reason: String,
    /// The stable code of the reason (`PL0006` for an unknown WIT version…).
    pub code: String,
}

impl FailedPlugin {
    pub(super) fn new(path: &Path, error: &PluginError) -> Self {
        let reason = error.to_string();
        FailedPlugin {
            id: path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
            file: path.display().to_string(),
            code: error.code().to_owned(),
            reason,
        }
    }
}

#[derive(Default)]
pub(super) struct Registry {
    loaded: BTreeMap<String, (Arc<Plugin>, PluginSource)>,
    failed: Vec<FailedPlugin>,
}

impl Registry {
    pub fn source_of(&self, id: &str) -> Option<&PluginSource> {
        self.loaded.get(id).map(|(_, source)| source)
    }

    pub fn insert(&mut self, plugin: Arc<Plugin>, source: PluginSource) {
        self.loaded.insert(plugin.info().id.clone(), (plugin, source));
    }

    pub fn fail(&mut self, failed: FailedPlugin) {
        self.failed.push(failed);
    }

    pub fn get(&self, id: &str) -> Result<Arc<Plugin>, PluginError> {
        if let Some((plugin, _)) = self.loaded.get(id) {
            return Ok(plugin.clone());
        }
        match self.failed.iter().find(|failed| failed.id == id) {
            Some(failed) => {
                Err(PluginError::Unavailable { plugin: id.to_owned(), reason: failed.reason.clone() })
            }
            None => Err(PluginError::UnknownPlugin(id.to_owned())),
        }
    }

    pub fn infos(&self) -> Vec<ProviderInfo> {
        self.loaded.values().map(|(plugin, _)| plugin.info().clone()).collect()
    }

    pub fn failed(&self) -> &[FailedPlugin] {
        &self.failed
    }
}
