//! Whether an agent may do what it asks, by its grant (`model::agent::Grant`):
//! the integration, the scopes a session asks for, a proxied call's method and
//! path, and the grant's expiry. Checked before any token is touched; a refusal
//! names what was refused.

use crate::error::{EngineError, EngineResult};
use crate::model::agent::{Agent, Grant, Refused};
use crate::util::clock::Timestamp;

fn refuse(agent: &Agent, refused: Refused) -> EngineError {
    EngineError::AgentNotAllowed { agent_id: agent.agent_id.clone(), refused }
}

/// Refuses an agent whose grant has expired.
pub(crate) fn check_live(agent: &Agent, now: Timestamp) -> EngineResult<()> {
    if agent.expires_at.is_some_and(|expires_at| expires_at <= now) {
        return Err(refuse(agent, Refused::Expired));
    }
    Ok(())
}

/// The agent's grant for `integration`, if it is granted and not expired.
pub(crate) fn grant<'a>(agent: &'a Agent, integration: &str, now: Timestamp) -> EngineResult<&'a Grant> {
    check_live(agent, now)?;
    agent.grant(integration).ok_or_else(|| refuse(agent, Refused::Integration(integration.to_owned())))
}

/// Refuses scopes a session would ask for beyond the grant.
pub(crate) fn check_scopes(
    agent: &Agent,
    integration: &str,
    scopes: &[String],
    now: Timestamp,
) -> EngineResult<()> {
    let Some(granted) = &grant(agent, integration, now)?.scopes else { return Ok(()) };
    let beyond: Vec<String> = scopes.iter().filter(|s| !granted.contains(s)).cloned().collect();
    if beyond.is_empty() { Ok(()) } else { Err(refuse(agent, Refused::Scopes(beyond))) }
}

/// Headers by which some providers (Google's, among others) take a request as
/// another method than its own: a grant of methods holds for theirs too.
pub const METHOD_OVERRIDES: [&str; 3] = ["x-http-method-override", "x-http-method", "x-method-override"];

/// What a proxied call does, as its grant sees it.
pub(crate) struct Call<'a> {
    pub method: &'a str,
    /// The methods its override headers name, in capitals (usually none).
    pub overrides: &'a [String],
    /// The proxied path under the API base, as sent (percent-encoded, no leading slash).
    pub path: &'a str,
}

/// Refuses a proxied call the grant does not allow.
pub(crate) fn check_call(
    agent: &Agent,
    integration: &str,
    call: &Call<'_>,
    now: Timestamp,
) -> EngineResult<()> {
    let grant = grant(agent, integration, now)?;
    if let Some(methods) = &grant.methods {
        let asked = std::iter::once(call.method).chain(call.overrides.iter().map(String::as_str));
        if let Some(method) = asked.into_iter().find(|asked| !methods.iter().any(|m| m == asked)) {
            return Err(refuse(agent, Refused::Method(method.to_owned())));
        }
    }
    let path = call.path;
    if let Some(patterns) = &grant.paths {
        let path = format!("/{path}");
        if !patterns.iter().any(|pattern| path_matches(pattern, &path)) {
            return Err(refuse(agent, Refused::Path(path)));
        }
    }
    Ok(())
}

/// Whether `path` matches `pattern`, segment by segment: a `**` segment stands for
/// any number of segments, a `*` within a segment for any characters but `/`.
/// The path is matched as sent: an encoded character matches only itself, so
/// encoding a path can only make it fail to match (the proxy refuses encoded
/// slashes and dot segments before this).
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    // matches[j]: the pattern's first i segments match the path's first j.
    let mut matches = vec![false; path.len() + 1];
    matches[0] = true;
    for segment in &pattern {
        let mut next = vec![false; path.len() + 1];
        for j in 0..=path.len() {
            next[j] = if *segment == "**" {
                matches[j] || (j > 0 && next[j - 1])
            } else {
                j > 0 && matches[j - 1] && segment_matches(segment, path[j - 1])
            };
        }
        matches = next;
    }
    matches[path.len()]
}

/// Wildcard matching within a segment: `*` stands for any characters.
fn segment_matches(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it has taken up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            (p, t) = (star_p + 1, star_t + 1);
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_their_patterns_segment_by_segment() {
        let cases = [
            ("/repos/**", "/repos/a/b/issues", true),
            ("/repos/**", "/repos", true),
            ("/repos/**", "/reposx/a", false),
            ("/repos/*/issues", "/repos/a/issues", true),
            ("/repos/*/issues", "/repos/a/b/issues", false),
            ("/repos/*/issues", "/repos//issues", true),
            ("/user", "/user", true),
            ("/user", "/user/emails", false),
            ("/v1/*.json", "/v1/items.json", true),
            ("/v1/*.json", "/v1/items.xml", false),
            ("/**/comments", "/a/b/comments", true),
            ("/**/comments", "/a/b/comments/1", false),
            ("/**", "/anything/at/all", true),
            ("/r*s/**", "/repos/x", true),
            ("/repos/**", "/r%65pos/x", false),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(path_matches(pattern, path), expected, "{pattern} ~ {path}");
        }
    }

    /// Many `**` and `*` cost a table, not a search: a hostile grant or path
    /// cannot make matching take long.
    #[test]
    fn matching_stays_quick_on_wildcard_heavy_input() {
        let pattern = format!("/{}x", "**/".repeat(60));
        let path = format!("/{}y", "a/".repeat(400));
        let started = std::time::Instant::now();
        assert!(!path_matches(&pattern, &path));
        assert!(!segment_matches(&"*a".repeat(200), &format!("{}b", "a".repeat(500))));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn a_grant_refuses_what_it_does_not_list_and_says_what() {
        let agent: Agent = serde_json::from_value(serde_json::json!({
            "projectId": "prj_1", "agentId": "bot", "createdAt": 0, "expiresAt": 1000,
            "integrations": {"github": {"methods": ["GET"], "paths": ["/repos/**"], "scopes": ["repo"]}},
        }))
        .unwrap();
        let code = |result: EngineResult<()>| match result {
            Err(EngineError::AgentNotAllowed { refused, .. }) => refused.code(),
            Err(other) => panic!("{other}"),
            Ok(()) => "allowed",
        };
        let now = Timestamp(10);
        let call = |method, path| Call { method, overrides: &[], path };
        assert_eq!(code(check_call(&agent, "github", &call("GET", "repos/a/b"), now)), "allowed");
        assert_eq!(code(check_call(&agent, "github", &call("DELETE", "repos/a/b"), now)), "method");
        assert_eq!(code(check_call(&agent, "github", &call("GET", "user"), now)), "path");
        assert_eq!(code(check_call(&agent, "slack", &call("GET", "repos/a"), now)), "integration");
        assert_eq!(code(check_call(&agent, "github", &call("GET", "repos/a"), Timestamp(1000))), "expired");
        let overridden = Call { overrides: &["DELETE".to_owned()], ..call("GET", "repos/a") };
        assert_eq!(
            code(check_call(&agent, "github", &overridden, now)),
            "method",
            "an override header's method too"
        );
        assert_eq!(code(check_scopes(&agent, "github", &["repo".into()], now)), "allowed");
        assert_eq!(code(check_scopes(&agent, "github", &["repo".into(), "admin:org".into()], now)), "scopes");
    }
}
