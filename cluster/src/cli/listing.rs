//! Listings from the terminal: a page (or every page, `--all`) of an admin
//! listing, printed as an aligned table or, with `--json`, as the API's page.

use clap::Args;
use reqwest::Method;
use securix_client::Client;
use serde_json::{Value, json};

/// Which part of a listing to show.
#[derive(Args, Debug, Clone)]
pub struct PageArgs {
    /// At most this many (1 to 500).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Start where the page before ended (its `nextCursor`).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Follow every page to the end.
    #[arg(long, conflicts_with = "cursor")]
    pub all: bool,
}

/// A listing's path and filters.
pub struct Listing<'a> {
    pub path: String,
    pub filters: Vec<(&'a str, Option<String>)>,
}

impl Listing<'_> {
    fn url(&self, limit: usize, cursor: Option<&str>) -> String {
        let mut query: Vec<String> = self
            .filters
            .iter()
            .filter_map(|(name, value)| Some(format!("{name}={}", super::encode(value.as_deref()?))))
            .collect();
        query.push(format!("limit={limit}"));
        if let Some(cursor) = cursor {
            query.push(format!("cursor={}", super::encode(cursor)));
        }
        format!("{}?{}", self.path, query.join("&"))
    }

    /// The page asked for, or every page joined into one (`nextCursor` null).
    pub async fn fetch(&self, client: &Client, page: &PageArgs) -> anyhow::Result<Value> {
        let mut cursor = page.cursor.clone();
        let mut items = Vec::new();
        loop {
            let answer = client.call(Method::GET, &self.url(page.limit, cursor.as_deref()), None).await?;
            items.extend(answer["items"].as_array().cloned().unwrap_or_default());
            let next = answer["nextCursor"].as_str().map(str::to_owned);
            match next {
                Some(next) if page.all => cursor = Some(next),
                next => return Ok(json!({ "items": items, "nextCursor": next })),
            }
        }
    }
}

/// A field of an item by its dotted path, as a table shows it.
fn cell(item: &Value, path: &str) -> String {
    text(path.split('.').fold(item, |value, step| &value[step]))
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(text) => text.clone(),
        Value::Array(values) => values.iter().map(text).collect::<Vec<_>>().join(","),
        Value::Object(map) => {
            map.iter().map(|(k, v)| format!("{k}={}", text(v))).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    }
}

/// A page as an aligned table: `columns` are (heading, field path); a last line
/// says how many, and where the next page starts.
pub fn table(page: &Value, columns: &[(&str, &str)]) -> String {
    let items = page["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    let rows: Vec<Vec<String>> =
        items.iter().map(|item| columns.iter().map(|(_, path)| cell(item, path)).collect()).collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (heading, _))| {
            rows.iter().map(|r| r[i].chars().count()).chain([heading.len()]).max().unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(columns.iter().map(|(h, _)| (*h).to_owned()).collect())];
    out.extend(rows.into_iter().map(line));
    out.push(match page["nextCursor"].as_str() {
        Some(next) => format!("{} shown; more with --cursor {next} (or --all)", items.len()),
        None if items.is_empty() => "none".to_owned(),
        None => format!("{} in all", items.len()),
    });
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_prints_as_an_aligned_table_with_what_comes_next() {
        let page = json!({
            "items": [
                {"entityId": "acme-1", "connections": 2, "account": {"id": "ada"}, "scopes": ["a", "b"]},
                {"entityId": "z", "connections": 0, "account": {"id": null}, "scopes": []},
            ],
            "nextCursor": "abc",
        });
        let columns = [
            ("ENTITY", "entityId"),
            ("CONN", "connections"),
            ("ACCOUNT", "account.id"),
            ("SCOPES", "scopes"),
        ];
        let printed = table(&page, &columns);
        assert_eq!(
            printed,
            "ENTITY  CONN  ACCOUNT  SCOPES\nacme-1  2     ada      a,b\nz       0     -\n2 shown; more with --cursor abc (or --all)"
        );
        assert_eq!(table(&json!({"items": [], "nextCursor": null}), &columns).lines().last(), Some("none"));
    }
}
