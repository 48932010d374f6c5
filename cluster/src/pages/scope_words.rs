//! Scopes in words, where a standard documents their meaning: OpenID Connect Core
//! 1.0 §5.4 (profile, email, address, phone) and §11 (offline_access). Others are
//! shown as they are; the catalog will carry each provider's own.

/// What `scope` lets the app do, in a person's words, when a standard says.
pub fn words(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "openid" => "Confirm who you are",
        "profile" => "See your name, profile picture and other basic profile details",
        "email" => "See your email address",
        "address" => "See your postal address",
        "phone" => "See your phone number",
        "offline_access" => "Keep access when you are not using the app",
        _ => return None,
    })
}
