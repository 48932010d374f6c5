//! Connection params: per-connection values (a Zendesk subdomain, a Shopify shop)
//! that an entry's URLs name as `{name}`. A value must match its param's pattern (by
//! default one DNS label) and can never carry URL syntax, so filling it in can change
//! a URL's host or path only where the entry's template allows.

use std::collections::BTreeMap;

use regex::Regex;

use super::entry::ConnectionParam;

/// One DNS label: what a subdomain, a shop or a tenant name is.
pub const DEFAULT_PATTERN: &str = "^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$";
/// The longest value a param may take.
pub const MAX_VALUE: usize = 256;

/// Values by param name.
pub type ParamValues = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("connection param `{name}`: {why}")]
    Refused { name: String, why: String },
    #[error("connection param `{0}` is not one this provider takes")]
    Unknown(String),
    #[error("connection param `{0}` is missing")]
    Missing(String),
}

fn placeholder() -> &'static Regex {
    static PLACEHOLDER: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    #[allow(clippy::unwrap_used)] // a literal pattern, covered by the tests below
    PLACEHOLDER.get_or_init(|| Regex::new(r"\{([a-z][a-z0-9_]*)\}").ok()).as_ref().unwrap()
}

/// The param names a template refers to.
pub fn names_in(template: &str) -> Vec<String> {
    placeholder().captures_iter(template).map(|c| c[1].to_owned()).collect()
}

/// The param's pattern, compiled; `None` if it is no valid anchored expression.
pub fn compile(param: &ConnectionParam) -> Option<Regex> {
    let pattern = param.pattern.as_deref().unwrap_or(DEFAULT_PATTERN);
    if !(pattern.starts_with('^') && pattern.ends_with('$')) {
        return None;
    }
    Regex::new(pattern).ok()
}

/// Checks one value: its pattern (a capture group, if any, is the value kept) and
/// no URL syntax at all, whatever the pattern allows.
pub fn accept(param: &ConnectionParam, raw: &str) -> Result<String, ParamError> {
    let refused = |why: &str| ParamError::Refused { name: param.name.clone(), why: why.to_owned() };
    if raw.is_empty() || raw.len() > MAX_VALUE {
        return Err(refused(&format!("must be 1 to {MAX_VALUE} characters")));
    }
    let pattern = compile(param).ok_or_else(|| refused("the catalog's pattern is invalid"))?;
    let captures = pattern.captures(raw).ok_or_else(|| refused("does not match the expected form"))?;
    let value = captures.get(1).or_else(|| captures.get(0)).map(|m| m.as_str()).unwrap_or_default();
    let unsafe_char = |c: char| c.is_whitespace() || c.is_control() || "/?#@\\{}%:".contains(c);
    if value.is_empty() || value.chars().any(unsafe_char) || value.contains("..") {
        return Err(refused("may not carry URL syntax"));
    }
    Ok(value.to_owned())
}

/// Checks the values an app or a user gives: only `user` params, each accepted.
pub fn accept_all(params: &[ConnectionParam], given: &ParamValues) -> Result<ParamValues, ParamError> {
    let mut accepted = ParamValues::new();
    for (name, raw) in given {
        let param = params
            .iter()
            .find(|p| &p.name == name && p.from == super::entry::ParamSource::User)
            .ok_or_else(|| ParamError::Unknown(name.clone()))?;
        accepted.insert(name.clone(), accept(param, raw)?);
    }
    Ok(accepted)
}

/// The text at a dotted path of a JSON answer (`instance_url`, `0.id`,
/// `accounts.0.id`: a number steps into an array), a string or a number.
pub fn pick(value: &serde_json::Value, path: &str) -> Option<String> {
    let found = path.split('.').try_fold(value, |at, step| match at {
        serde_json::Value::Array(items) => items.get(step.parse::<usize>().ok()?),
        _ => at.get(step),
    })?;
    match found {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The `user` params the app did not pass: what the connect page asks for.
pub fn missing<'a>(params: &'a [ConnectionParam], given: &ParamValues) -> Vec<&'a ConnectionParam> {
    params
        .iter()
        .filter(|p| p.from == super::entry::ParamSource::User && !given.contains_key(&p.name))
        .collect()
}

/// The app's values with what the user typed on the connect page for the params the
/// app left out (the app's own values are never replaced); every `user` param must
/// then have one.
pub fn complete(
    params: &[ConnectionParam],
    given: &ParamValues,
    typed: &ParamValues,
) -> Result<ParamValues, ParamError> {
    let wanted = missing(params, given);
    let mut values = given.clone();
    for (name, raw) in typed {
        let param =
            wanted.iter().find(|p| &p.name == name).ok_or_else(|| ParamError::Unknown(name.clone()))?;
        values.insert(name.clone(), accept(param, raw.trim())?);
    }
    match missing(params, &values).first() {
        Some(param) => Err(ParamError::Missing(param.name.clone())),
        None => Ok(values),
    }
}

/// Fills the placeholders of `declared` params in `text` in one pass (a value is never
/// read again as a template). A declared placeholder without a value is an error.
pub fn fill(text: &str, declared: &[String], values: &ParamValues) -> Result<String, ParamError> {
    // Most integrations declare no params: their plugin calls skip the pass.
    if declared.is_empty() {
        return Ok(text.to_owned());
    }
    let mut missing = None;
    let filled = placeholder().replace_all(text, |c: &regex::Captures<'_>| {
        let name = &c[1];
        match values.get(name) {
            Some(value) if declared.iter().any(|d| d == name) => value.clone(),
            None if declared.iter().any(|d| d == name) => {
                missing.get_or_insert_with(|| name.to_owned());
                c[0].to_owned()
            }
            _ => c[0].to_owned(),
        }
    });
    match missing {
        Some(name) => Err(ParamError::Missing(name)),
        None => Ok(filled.into_owned()),
    }
}

/// A stand-in value that is a valid host label, for checking a template's URLs
/// before any connection gives real values.
pub fn stand_in(name: &str) -> String {
    format!("sxparam-{}", name.replace('_', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(pattern: Option<&str>) -> ConnectionParam {
        ConnectionParam {
            name: "subdomain".into(),
            label: "Subdomain".into(),
            pattern: pattern.map(str::to_owned),
            example: None,
            from: Default::default(),
            field: None,
            url: None,
        }
    }

    #[test]
    fn a_value_is_one_label_by_default_and_never_url_syntax() {
        assert_eq!(accept(&param(None), "acme-1").unwrap(), "acme-1");
        for bad in ["", "evil.com/", "a b", "acme.evil.com", "-a", "a@b", &"a".repeat(300)] {
            assert!(accept(&param(None), bad).is_err(), "{bad:?}");
        }
        // A loose pattern still cannot smuggle a path, a port or userinfo in.
        for bad in ["x/../admin", "x:8080", "u@host", "x?y", "x#y", "x%2f"] {
            assert!(accept(&param(Some("^.+$")), bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_capture_group_picks_the_value() {
        let salesforce = param(Some(r"^https://([a-z0-9-]+(?:\.my)?)\.salesforce\.com$"));
        assert_eq!(accept(&salesforce, "https://acme.my.salesforce.com").unwrap(), "acme.my");
        assert!(accept(&salesforce, "https://acme.evil.com").is_err());
    }

    #[test]
    fn the_user_completes_only_what_the_app_left_out() {
        let shop = ConnectionParam { name: "shop".into(), ..param(None) };
        let late =
            ConnectionParam { name: "cloud_id".into(), from: super::super::ParamSource::Call, ..param(None) };
        let params = [param(None), shop, late];
        let given = ParamValues::from([("shop".into(), "acme".into())]);
        let asked: Vec<_> = missing(&params, &given).iter().map(|p| p.name.as_str()).collect();
        assert_eq!(asked, ["subdomain"], "params from the grant are never asked for");
        let typed = ParamValues::from([("subdomain".into(), " help ".into())]);
        let values = complete(&params, &given, &typed).unwrap();
        assert_eq!(
            values,
            ParamValues::from([("shop".into(), "acme".into()), ("subdomain".into(), "help".into())])
        );
        let over = ParamValues::from([("shop".into(), "evil".into()), ("subdomain".into(), "help".into())]);
        assert_eq!(
            complete(&params, &given, &over),
            Err(ParamError::Unknown("shop".into())),
            "the app's value stays"
        );
        assert_eq!(
            complete(&params, &given, &ParamValues::new()),
            Err(ParamError::Missing("subdomain".into()))
        );
        let bad = ParamValues::from([("subdomain".into(), "evil.example/x".into())]);
        assert!(matches!(complete(&params, &given, &bad), Err(ParamError::Refused { .. })));
    }

    #[test]
    fn filling_is_one_pass_and_missing_values_are_named() {
        let declared = vec!["subdomain".to_owned(), "shop".to_owned()];
        let values = ParamValues::from([("subdomain".into(), "{shop}".into()), ("shop".into(), "x".into())]);
        let filled = fill("https://{subdomain}.z.com/{shop}?q={other}", &declared, &values).unwrap();
        assert_eq!(filled, "https://{shop}.z.com/x?q={other}");
        let missing = fill("https://{subdomain}.z.com", &declared, &ParamValues::new());
        assert_eq!(missing, Err(ParamError::Missing("subdomain".into())));
        assert_eq!(names_in("https://{a}.x/{b_c}/{ D }"), vec!["a", "b_c"]);
    }
}
