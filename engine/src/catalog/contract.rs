//! What every entry must keep beyond its schema: https URLs on the hosts it names,
//! placeholders that are declared params, patterns that compile. An entry that breaks
//! it is refused at load (and `every_embedded_entry_keeps_the_contract` fails).

use url::Url;

use super::entry::{AuthMode, Entry, ParamSource};
use super::params;

/// Whether `host` is one of `allowed` (`*.example.com`: any subdomain of it).
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.to_ascii_lowercase();
    allowed.iter().any(|pattern| match pattern.strip_prefix("*.") {
        Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
        None => host == *pattern,
    })
}

const SEPARATORS: &[&str] = &[" ", ",", "+", ";"];

/// Every way `entry` (read from `file`) breaks the contract.
pub fn problems(file: &str, entry: &Entry) -> Vec<String> {
    let mut found = Vec::new();
    let mut say = |what: String| found.push(what);
    if file.strip_suffix(".toml") != Some(entry.id.as_str()) {
        say(format!("id {:?} is not the file's name", entry.id));
    }
    let id_ok = !entry.id.is_empty()
        && entry.id.len() <= 64
        && entry.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !id_ok {
        say("id must be 1 to 64 of a-z, 0-9 and -".into());
    }
    if entry.name.trim().is_empty() || entry.categories.is_empty() {
        say("name and categories are required".into());
    }
    for (field, url) in [("docsUrl", entry.docs_url.as_str()), ("website", entry.website.as_str())] {
        if !Url::parse(url).is_ok_and(|u| u.scheme() == "https") {
            say(format!("{field} is not an https URL"));
        }
    }
    let declared: Vec<&str> = entry.connection_params.iter().map(|p| p.name.as_str()).collect();
    for (i, param) in entry.connection_params.iter().enumerate() {
        if declared[..i].contains(&param.name.as_str()) {
            say(format!("connection param {} is declared twice", param.name));
        }
        if params::compile(param).is_none() {
            say(format!(
                "connection param {}: its pattern is not an anchored regular expression",
                param.name
            ));
        }
        let needs_field = matches!(param.from, ParamSource::Token | ParamSource::Call);
        if needs_field && param.field.is_none() || param.from == ParamSource::Call && param.url.is_none() {
            say(format!(
                "connection param {}: `from` {:?} needs `field` (and `url` for call)",
                param.name, param.from
            ));
        }
    }
    let before_grant: Vec<&str> = entry
        .connection_params
        .iter()
        .filter(|p| p.from == ParamSource::User)
        .map(|p| p.name.as_str())
        .collect();
    for (field, template) in entry.urls() {
        for name in params::names_in(template) {
            if !declared.contains(&name.as_str()) {
                say(format!("{field} names {{{name}}}, which is no connection param"));
            }
            let at_authorization = field == "authorizationUrl" || field == "tokenUrl";
            if at_authorization && !before_grant.contains(&name.as_str()) {
                say(format!("{field} names {{{name}}}, which is only known after the grant"));
            }
        }
        let sample = params::names_in(template).iter().fold(template.to_owned(), |url, name| {
            url.replace(&format!("{{{name}}}"), &params::stand_in(name))
        });
        match Url::parse(&sample) {
            Ok(url) if url.scheme() == "https" => match url.host_str() {
                Some(host) if host_allowed(host, &entry.allowed_hosts) => {}
                Some(host) => say(format!("{field} reaches {host}, which allowedHosts does not name")),
                None => say(format!("{field} has no host")),
            },
            _ => say(format!("{field} is not an absolute https URL")),
        }
    }
    let oauth_urls = (entry.authorization_url.is_some(), entry.token_url.is_some());
    match entry.auth_mode {
        AuthMode::Oauth2 if oauth_urls != (true, true) => {
            say("oauth2 needs authorizationUrl and tokenUrl".into())
        }
        AuthMode::Oauth2ClientCredentials if !oauth_urls.1 => {
            say("oauth2_client_credentials needs tokenUrl".into())
        }
        AuthMode::ApiKey if entry.api_key.is_none() || entry.credentials.is_empty() => {
            say("api_key needs apiKey and credentials".into())
        }
        _ => {}
    }
    if entry.scope_separator.as_deref().is_some_and(|s| !SEPARATORS.contains(&s)) {
        say("scopeSeparator must be one of \" \", \",\", \"+\", \";\"".into());
    }
    if let Some(auth) = entry.client_auth.as_deref().filter(|a| !matches!(*a, "form" | "basic")) {
        say(format!("clientAuth {auth:?} is neither form nor basic"));
    }
    if let Some(refresh) =
        entry.refresh.as_deref().filter(|r| !matches!(*r, "standard" | "rotating" | "none"))
    {
        say(format!("refresh {refresh:?} is not standard, rotating or none"));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_stands_for_subdomains_only() {
        let allowed = vec!["*.zendesk.com".to_owned(), "api.example.com".to_owned()];
        assert!(host_allowed("acme.zendesk.com", &allowed));
        assert!(host_allowed("a.b.zendesk.com", &allowed));
        assert!(host_allowed("API.example.com", &allowed));
        for other in ["zendesk.com", "evilzendesk.com", "zendesk.com.evil.net", "x.example.com"] {
            assert!(!host_allowed(other, &allowed), "{other}");
        }
    }
}
