//! An integration's configuration as the plugin reads it: a JSON object.

use serde_json::{Map, Value};

use crate::ProviderError;

/// A parsed integration configuration (`{}` when the integration has none).
#[derive(Debug, Clone, Default)]
pub struct Config(Map<String, Value>);

impl Config {
    pub fn parse(text: &str) -> Result<Config, ProviderError> {
        if text.trim().is_empty() || text.trim() == "null" {
            return Ok(Config::default());
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Config(map)),
            Ok(Value::Null) => Ok(Config::default()),
            Ok(_) => Err(ProviderError::InvalidConfig("configuration must be a JSON object".into())),
            Err(error) => Err(ProviderError::InvalidConfig(format!("configuration is not JSON: {error}"))),
        }
    }

    /// A string field, if present.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// Any field, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// A string → string table (`authorizeParams`), empty when absent.
    pub fn pairs(&self, key: &str) -> Vec<(String, String)> {
        let table = self.0.get(key).and_then(Value::as_object);
        table.into_iter().flatten().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect()
    }

    /// A boolean field, if present.
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.0.get(key).and_then(Value::as_bool)
    }

    /// A string field that must be present.
    pub fn required(&self, key: &str) -> Result<&str, ProviderError> {
        self.str(key).ok_or_else(|| ProviderError::InvalidConfig(format!("`{key}` is required")))
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(key.to_owned(), value.into());
    }

    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }
}
