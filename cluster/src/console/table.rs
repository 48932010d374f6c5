//! A listing as the console shows it: headings, rows of text, and per row the
//! buttons that change it (each a small form POST).

/// A button that posts to `action` (with the session's CSRF token).
pub struct RowAction {
    pub label: &'static str,
    pub action: String,
    /// Asks again before posting (a delete).
    pub danger: bool,
}

pub struct Row {
    pub cells: Vec<String>,
    pub actions: Vec<RowAction>,
}

/// One section of a page: a titled table, or what to do when it is empty.
pub struct Table {
    pub id: &'static str,
    pub title: &'static str,
    pub headings: Vec<&'static str>,
    pub rows: Vec<Row>,
    /// What the operator can do when there is nothing yet.
    pub empty: &'static str,
    /// More than this page holds.
    pub more: bool,
    pub pages: Pages,
}

/// Links to page through a section, when it pages.
#[derive(Default)]
pub struct Pages {
    pub next: Option<String>,
    /// Back to the first page, from a later one.
    pub first: Option<String>,
}

/// A value as a cell shows it: `-` for nothing.
pub fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "-".into(),
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(items) if items.is_empty() => "-".into(),
        serde_json::Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}
