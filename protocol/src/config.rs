//! `auth_config.json`: the raw file as the SPA reads it, and its validated form
//! (`docs/contract.md §1`).
//!
//! The SPA parses the JSON (browser `JSON.parse`, then [`FromJson`](crate::FromJson)) into
//! [`RawAuthConfig`], then calls [`RawAuthConfig::validate`]; every error names the field.

use crate::error::ConfigError;
use crate::json_object;
use crate::scope;
use crate::url::parse_http_url;

json_object! {
    /// `auth_config.json` exactly as written: every field optional, camelCase, unknown fields
    /// ignored.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct RawAuthConfig: FromJson + ToJson {
        /// The provider's issuer URL, exactly as in its discovery document.
        pub issuer: Option<String> = "issuer",
        /// Auth0 style host name: `tenant.eu.auth0.com` means issuer
        /// `https://tenant.eu.auth0.com/`.
        pub domain: Option<String> = "domain",
        /// The SPA's client id (required).
        pub client_id: Option<String> = "clientId",
        /// The API identifier, sent as Auth0's `audience` parameter.
        pub audience: Option<String> = "audience",
        /// Space-separated scopes; `openid` is always added.
        pub scope: Option<String> = "scope",
        /// `id_token token` (default), `id_token`, or `code` (authorization code flow with PKCE).
        pub response_type: Option<String> = "responseType",
        /// Path of the callback route; redirect_uri = the app's origin + this path.
        pub redirect_path: Option<String> = "redirectPath",
        /// Base URL of the API the pages call.
        pub api_origin: Option<String> = "apiOrigin",
        /// `memory` (default), `session` or `local`.
        pub cache_location: Option<String> = "cacheLocation",
        /// Send the ID token as `id_token_hint` at logout (default `false`).
        pub logout_id_token_hint: Option<bool> = "logoutIdTokenHint",
        /// Renew with a refresh token instead of the hidden iframe (default `false`; needs
        /// `responseType: "code"`).
        pub use_refresh_tokens: Option<bool> = "useRefreshTokens",
        /// Bind the tokens to a key of this browser with DPoP, RFC 9449 (default `false`;
        /// needs `responseType: "code"`).
        pub use_dpop: Option<bool> = "useDpop",
    }
}

/// What the SPA asks the provider to return.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResponseType {
    /// `id_token token`: sign-in plus an access token for API calls.
    #[default]
    IdTokenToken,
    /// `id_token`: sign-in only, no API calls.
    IdToken,
    /// `code`: the authorization code flow with PKCE (RFC 7636); tokens come from the token
    /// endpoint, not the URL.
    Code,
}

impl ResponseType {
    /// The `response_type` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdTokenToken => "id_token token",
            Self::IdToken => "id_token",
            Self::Code => "code",
        }
    }

    /// Whether an access token is expected in the response.
    pub fn includes_access_token(self) -> bool {
        self != Self::IdToken
    }

    /// Whether this is the authorization code flow.
    pub fn is_code(self) -> bool {
        self == Self::Code
    }
}

/// Where the SPA keeps tokens between page loads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheLocation {
    /// Only in memory: lost on reload (silent authentication restores the session).
    #[default]
    Memory,
    /// `sessionStorage`: survives reloads of this tab; readable by any script on the origin.
    Session,
    /// `localStorage`: survives restarts; readable by any script on the origin.
    Local,
}

impl CacheLocation {
    /// The configuration value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Session => "session",
            Self::Local => "local",
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The issuer URL, exactly as configured (compared exactly with `iss`).
    pub issuer: String,
    /// The SPA's client id.
    pub client_id: String,
    /// The API identifier, if any.
    pub audience: Option<String>,
    /// Space-separated scopes; always contains `openid` (first).
    pub scope: String,
    /// What to ask the provider for.
    pub response_type: ResponseType,
    /// The callback path: starts with one `/`.
    pub redirect_path: String,
    /// The API base URL without trailing slash, if any.
    pub api_origin: Option<String>,
    /// Where tokens are kept.
    pub cache_location: CacheLocation,
    /// Whether logout sends the ID token as `id_token_hint` (OIDC RP-Initiated Logout 1.0 §2).
    pub logout_id_token_hint: bool,
    /// Whether renewal uses a refresh token (only with [`ResponseType::Code`]); then `scope`
    /// includes `offline_access`.
    pub use_refresh_tokens: bool,
    /// Whether the tokens are bound to the browser's DPoP key (RFC 9449; only with
    /// [`ResponseType::Code`]): proofs at the token endpoint and the API, `token_type` `DPoP`.
    pub use_dpop: bool,
}

impl AuthConfig {
    /// Default `scope` when the file has none.
    pub const DEFAULT_SCOPE: &'static str = "openid profile email";
    /// Default `redirectPath` when the file has none.
    pub const DEFAULT_REDIRECT_PATH: &'static str = "/callback";

    /// The issuer without a trailing `/`, then `/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        crate::discovery::discovery_url(&self.issuer)
    }

    /// The `redirect_uri` for an app served at `origin` (e.g. `http://localhost:8080`).
    pub fn redirect_uri(&self, origin: &str) -> String {
        format!("{}{}", origin.trim_end_matches('/'), self.redirect_path)
    }
}

/// Longest value accepted for any field; real values are far shorter.
const MAX_FIELD_LEN: usize = 2048;

/// A trimmed, non-empty value, or `None` when the field is absent or blank.
fn present(value: Option<String>, field: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed.len() > MAX_FIELD_LEN {
        return Err(ConfigError::Invalid {
            field,
            reason: "is too long",
        });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ConfigError::Invalid {
            field,
            reason: "contains control characters",
        });
    }
    Ok(Some(trimmed.to_owned()))
}

impl RawAuthConfig {
    /// Validates every field and applies the defaults of `docs/contract.md §1`.
    pub fn validate(self) -> Result<AuthConfig, ConfigError> {
        let issuer = match (
            present(self.issuer, "issuer")?,
            present(self.domain, "domain")?,
        ) {
            (Some(issuer), domain) => {
                let issuer = validate_issuer(&issuer)?;
                if let Some(domain) = domain {
                    if issuer_from_domain(&domain)? != issuer {
                        return Err(ConfigError::Invalid {
                            field: "domain",
                            reason: "does not match \"issuer\"; give only one of them",
                        });
                    }
                }
                issuer
            }
            (None, Some(domain)) => issuer_from_domain(&domain)?,
            (None, None) => return Err(ConfigError::Missing { field: "issuer" }),
        };

        let client_id = present(self.client_id, "clientId")?
            .ok_or(ConfigError::Missing { field: "clientId" })?;
        if client_id.chars().any(char::is_whitespace) {
            return Err(ConfigError::Invalid {
                field: "clientId",
                reason: "contains whitespace",
            });
        }

        let audience = present(self.audience, "audience")?;

        let scope = match present(self.scope, "scope")? {
            Some(s) => {
                // RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
                let valid = scope::scopes(&s).iter().all(|token| {
                    token
                        .bytes()
                        .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
                });
                if !valid {
                    return Err(ConfigError::Invalid {
                        field: "scope",
                        reason:
                            "scopes may not contain quotes, backslashes or non-ASCII characters",
                    });
                }
                scope::with_openid(&s)
            }
            None => AuthConfig::DEFAULT_SCOPE.to_owned(),
        };

        let response_type = match present(self.response_type, "responseType")? {
            None => ResponseType::default(),
            Some(rt) => {
                // The order of the values does not matter (OAuth 2.0 Multiple Response Types §3);
                // both orders are spelt out rather than sorted (no sort in the download).
                let parts: Vec<&str> = rt.split_ascii_whitespace().collect();
                match parts.as_slice() {
                    ["id_token", "token"] | ["token", "id_token"] => ResponseType::IdTokenToken,
                    ["id_token"] => ResponseType::IdToken,
                    ["code"] => ResponseType::Code,
                    _ => {
                        return Err(ConfigError::Invalid {
                            field: "responseType",
                            reason: "expected \"id_token token\", \"id_token\" or \"code\"",
                        })
                    }
                }
            }
        };

        let redirect_path = match present(self.redirect_path, "redirectPath")? {
            None => AuthConfig::DEFAULT_REDIRECT_PATH.to_owned(),
            Some(path) => {
                let bad = !path.starts_with('/')
                    || path.starts_with("//")
                    || path.contains(['\\', '#'])
                    || path.chars().any(char::is_whitespace);
                if bad {
                    return Err(ConfigError::Invalid {
                        field: "redirectPath",
                        reason:
                            "must be a path starting with a single \"/\", without \"#\" or \"\\\"",
                    });
                }
                path
            }
        };

        let api_origin = match present(self.api_origin, "apiOrigin")? {
            None => None,
            Some(url) => {
                let parsed = parse_http_url(&url).ok_or(ConfigError::Invalid {
                    field: "apiOrigin",
                    reason: "must be an http(s) URL",
                })?;
                if parsed.rest.contains(['?', '#']) {
                    return Err(ConfigError::Invalid {
                        field: "apiOrigin",
                        reason: "must not have a query or fragment",
                    });
                }
                if !parsed.is_secure() {
                    return Err(ConfigError::Invalid {
                        field: "apiOrigin",
                        reason: "must use https (http only for localhost)",
                    });
                }
                Some(url.trim_end_matches('/').to_owned())
            }
        };

        let cache_location = match present(self.cache_location, "cacheLocation")? {
            None => CacheLocation::default(),
            Some(value) => match value.to_ascii_lowercase().as_str() {
                "memory" => CacheLocation::Memory,
                // auth0-spa-js spells these `localstorage`; accept both spellings.
                "session" | "sessionstorage" => CacheLocation::Session,
                "local" | "localstorage" => CacheLocation::Local,
                _ => {
                    return Err(ConfigError::Invalid {
                        field: "cacheLocation",
                        reason: "expected \"memory\", \"session\" or \"local\"",
                    })
                }
            },
        };

        let use_refresh_tokens = self.use_refresh_tokens.unwrap_or(false);
        if use_refresh_tokens && !response_type.is_code() {
            return Err(ConfigError::Invalid {
                field: "useRefreshTokens",
                reason:
                    "needs \"responseType\": \"code\" (the implicit grant has no refresh token)",
            });
        }
        let use_dpop = self.use_dpop.unwrap_or(false);
        if use_dpop && !response_type.is_code() {
            return Err(ConfigError::Invalid {
                field: "useDpop",
                reason: "needs \"responseType\": \"code\" (tokens from the authorization \
                         endpoint cannot be bound to a key, RFC 9449 §10)",
            });
        }
        // RFC 6749 §6 / OIDC Core §11: a refresh token is asked for with offline_access.
        let scope = if use_refresh_tokens {
            scope::merge(&scope, &["offline_access"])
        } else {
            scope
        };

        Ok(AuthConfig {
            issuer,
            client_id,
            audience,
            scope,
            response_type,
            redirect_path,
            api_origin,
            cache_location,
            logout_id_token_hint: self.logout_id_token_hint.unwrap_or(false),
            use_refresh_tokens,
            use_dpop,
        })
    }
}

/// Checks an issuer URL. It is kept exactly as written: OIDC Core 3.1.3.7 compares `iss` by
/// exact string, and providers differ (Auth0 ends with `/`, Keycloak and Okta do not).
fn validate_issuer(issuer: &str) -> Result<String, ConfigError> {
    let parsed = parse_http_url(issuer).ok_or(ConfigError::Invalid {
        field: "issuer",
        reason: "must be an http(s) URL such as https://id.example/",
    })?;
    // OIDC Discovery 3: the issuer has no query or fragment.
    if parsed.rest.contains(['?', '#']) {
        return Err(ConfigError::Invalid {
            field: "issuer",
            reason: "must not have a query or fragment",
        });
    }
    if !parsed.is_secure() {
        return Err(ConfigError::Invalid {
            field: "issuer",
            reason: "must use https (http only for localhost)",
        });
    }
    Ok(issuer.to_owned())
}

/// `tenant.eu.auth0.com` → `https://tenant.eu.auth0.com/`.
fn issuer_from_domain(domain: &str) -> Result<String, ConfigError> {
    let invalid = ConfigError::Invalid {
        field: "domain",
        reason: "must be a host name such as tenant.eu.auth0.com, without https:// or a path",
    };
    let domain = domain.trim_end_matches('/');
    if domain.contains(['/', '?', '#', '@', '\\']) {
        return Err(invalid);
    }
    let issuer = format!("https://{domain}/");
    match parse_http_url(&issuer) {
        Some(parsed) if parsed.rest == "/" => Ok(issuer),
        _ => Err(invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: serde_json::Value) -> RawAuthConfig {
        serde_json::from_value(json).unwrap()
    }

    fn minimal() -> RawAuthConfig {
        raw(serde_json::json!({"issuer": "http://localhost:3000/", "clientId": "hashgate-spa"}))
    }

    fn field_error(r: RawAuthConfig) -> &'static str {
        match r.validate() {
            Err(ConfigError::Missing { field } | ConfigError::Invalid { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn a_minimal_file_gets_the_documented_defaults() {
        // docs/contract.md §1: defaults for scope, responseType, redirectPath, cacheLocation.
        let c = minimal().validate().unwrap();
        assert_eq!(c.issuer, "http://localhost:3000/");
        assert_eq!(c.client_id, "hashgate-spa");
        assert_eq!(c.audience, None);
        assert_eq!(c.scope, "openid profile email");
        assert_eq!(c.response_type, ResponseType::IdTokenToken);
        assert_eq!(c.redirect_path, "/callback");
        assert_eq!(c.api_origin, None);
        assert_eq!(c.cache_location, CacheLocation::Memory);
        assert!(!c.logout_id_token_hint);
        assert_eq!(
            c.discovery_url(),
            "http://localhost:3000/.well-known/openid-configuration"
        );
        assert_eq!(
            c.redirect_uri("http://localhost:8080"),
            "http://localhost:8080/callback"
        );
    }

    #[test]
    fn every_field_is_read_and_unknown_fields_are_ignored() {
        // docs/contract.md §1: camelCase fields; unknown fields are ignored.
        let c = raw(serde_json::json!({
            "issuer": "https://id.example",
            "clientId": "abc",
            "audience": "https://api.example",
            "scope": "read:messages profile openid",
            "responseType": "id_token",
            "redirectPath": "/auth/cb",
            "apiOrigin": "https://api.example/",
            "cacheLocation": "session",
            "logoutIdTokenHint": true,
            "somethingElse": [1, 2, 3]
        }))
        .validate()
        .unwrap();
        // OIDC Core 3.1.3.7 step 2: `iss` is compared exactly, so the issuer is kept as written
        // (Keycloak and Okta issuers have no trailing slash) and discovery still finds its document.
        assert_eq!(c.issuer, "https://id.example");
        assert_eq!(
            c.discovery_url(),
            "https://id.example/.well-known/openid-configuration"
        );
        assert_eq!(c.audience.as_deref(), Some("https://api.example"));
        assert_eq!(c.scope, "openid read:messages profile");
        assert_eq!(c.response_type, ResponseType::IdToken);
        assert_eq!(c.redirect_path, "/auth/cb");
        assert_eq!(c.api_origin.as_deref(), Some("https://api.example"));
        assert_eq!(c.cache_location, CacheLocation::Session);
        assert!(c.logout_id_token_hint);
    }

    #[test]
    fn an_auth0_domain_becomes_an_https_issuer() {
        // docs/contract.md §1: domain tenant.eu.auth0.com means issuer https://tenant.eu.auth0.com/.
        let c = raw(serde_json::json!({"domain": "t.eu.auth0.com", "clientId": "x"}))
            .validate()
            .unwrap();
        assert_eq!(c.issuer, "https://t.eu.auth0.com/");
    }

    #[test]
    fn a_domain_with_a_scheme_or_path_is_refused() {
        // docs/contract.md §1: domain is a bare host name.
        for bad in [
            "https://t.auth0.com",
            "t.auth0.com/x",
            "user@t.auth0.com",
            "t auth0",
        ] {
            let r = raw(serde_json::json!({"domain": bad, "clientId": "x"}));
            assert_eq!(field_error(r), "domain", "{bad}");
        }
    }

    #[test]
    fn issuer_and_domain_must_agree_when_both_are_given() {
        // A file naming two providers is ambiguous; refuse it rather than guess.
        let ok = raw(
            serde_json::json!({"issuer": "https://t.auth0.com/", "domain": "t.auth0.com", "clientId": "x"}),
        );
        assert!(ok.validate().is_ok());
        let bad = raw(
            serde_json::json!({"issuer": "https://a.example/", "domain": "b.example", "clientId": "x"}),
        );
        assert_eq!(field_error(bad), "domain");
    }

    #[test]
    fn a_missing_issuer_or_client_id_is_named() {
        // docs/contract.md §1: a missing file field shows an error naming it.
        let r = raw(serde_json::json!({"clientId": "x"}));
        assert_eq!(r.validate(), Err(ConfigError::Missing { field: "issuer" }));
        let r = raw(serde_json::json!({"issuer": "https://id.example/", "clientId": "  "}));
        let err = r.validate().unwrap_err();
        assert_eq!(err, ConfigError::Missing { field: "clientId" });
        assert_eq!(err.to_string(), "auth_config.json: \"clientId\" is missing");
    }

    #[test]
    fn the_issuer_must_be_https_except_on_loopback() {
        // Tokens never come from plain http except from this machine.
        for good in [
            "http://localhost:3000",
            "http://127.0.0.1/",
            "http://[::1]:9/",
            "https://id.example/tenant/",
        ] {
            let r = raw(serde_json::json!({"issuer": good, "clientId": "x"}));
            assert!(r.validate().is_ok(), "{good}");
        }
        for bad in [
            "http://id.example/",
            "id.example",
            "ftp://id.example/",
            "https://id.example/?x=1",
            "https://id.example/#x",
            "https://user@id.example/",
            "https://",
            "http://localhost.evil.example/",
        ] {
            let r = raw(serde_json::json!({"issuer": bad, "clientId": "x"}));
            assert_eq!(field_error(r), "issuer", "{bad}");
        }
    }

    #[test]
    fn a_client_id_with_whitespace_or_control_characters_is_refused() {
        // docs/contract.md §1: invalid field named.
        for bad in ["a b", "a\u{7}b"] {
            let r = raw(serde_json::json!({"issuer": "https://id.example/", "clientId": bad}));
            assert_eq!(field_error(r), "clientId");
        }
    }

    #[test]
    fn an_empty_audience_counts_as_absent() {
        // Auth0 samples ship "audience": "" when no API is used.
        let mut r = minimal();
        r.audience = Some(String::new());
        assert_eq!(r.validate().unwrap().audience, None);
    }

    #[test]
    fn scope_always_contains_openid_and_rejects_invalid_characters() {
        // docs/contract.md §1: scope is always sent with openid; RFC 6749 3.3 scope-token syntax.
        let mut r = minimal();
        r.scope = Some("email email".into());
        assert_eq!(r.validate().unwrap().scope, "openid email");
        let mut r = minimal();
        r.scope = Some("openid \"quoted\"".into());
        assert_eq!(field_error(r), "scope");
    }

    #[test]
    fn response_type_accepts_the_two_implicit_variants_and_code() {
        // docs/contract.md §1: responseType is `id_token token`, `id_token` or `code`.
        let mut r = minimal();
        r.response_type = Some("token id_token".into());
        assert_eq!(
            r.validate().unwrap().response_type,
            ResponseType::IdTokenToken
        );
        let mut r = minimal();
        r.response_type = Some("code".into());
        let c = r.validate().unwrap();
        assert_eq!(c.response_type, ResponseType::Code);
        assert!(!c.use_refresh_tokens);
        assert_eq!(c.scope, "openid profile email");
        // Hybrid flows and repeats are not offered: the error names the field.
        for bad in [
            "token",
            "id_token id_token",
            "id_token code",
            "code token",
            "code code",
        ] {
            let mut r = minimal();
            r.response_type = Some(bad.into());
            assert_eq!(field_error(r), "responseType", "{bad}");
        }
    }

    #[test]
    fn redirect_path_must_be_a_single_slash_path() {
        // No open redirects: redirect_uri stays on the app's origin.
        for bad in [
            "callback",
            "//evil.example/cb",
            "/\\evil",
            "/cb#x",
            "https://evil.example/cb",
            "/c b",
        ] {
            let mut r = minimal();
            r.redirect_path = Some(bad.into());
            assert_eq!(field_error(r), "redirectPath", "{bad}");
        }
    }

    #[test]
    fn api_origin_is_an_http_url_without_trailing_slash() {
        // Bearer tokens go only to https (or to this machine).
        let mut r = minimal();
        r.api_origin = Some("http://localhost:3001/".into());
        assert_eq!(
            r.validate().unwrap().api_origin.as_deref(),
            Some("http://localhost:3001")
        );
        for bad in [
            "http://api.example",
            "api.example",
            "https://api.example/?q",
            "javascript:x",
        ] {
            let mut r = minimal();
            r.api_origin = Some(bad.into());
            assert_eq!(field_error(r), "apiOrigin", "{bad}");
        }
    }

    #[test]
    fn cache_location_accepts_memory_session_and_local() {
        // docs/contract.md §1: cacheLocation memory, session or local.
        for (value, expected) in [
            ("memory", CacheLocation::Memory),
            ("session", CacheLocation::Session),
            ("local", CacheLocation::Local),
            ("localstorage", CacheLocation::Local),
        ] {
            let mut r = minimal();
            r.cache_location = Some(value.into());
            assert_eq!(r.validate().unwrap().cache_location, expected);
        }
        let mut r = minimal();
        r.cache_location = Some("cookie".into());
        let err = r.validate().unwrap_err();
        assert_eq!(field_error_of(&err), "cacheLocation");
        assert!(err
            .to_string()
            .starts_with("auth_config.json: \"cacheLocation\" is invalid"));
    }

    fn field_error_of(e: &ConfigError) -> &'static str {
        match e {
            ConfigError::Missing { field } | ConfigError::Invalid { field, .. } => field,
        }
    }

    #[test]
    fn refresh_tokens_need_the_code_flow_and_ask_for_offline_access() {
        // docs/contract.md §1 `useRefreshTokens`: only with `code`, and then `offline_access`
        // is requested (OIDC Core §11); any other combination names the field.
        let mut r = minimal();
        r.response_type = Some("code".into());
        r.use_refresh_tokens = Some(true);
        let c = r.validate().unwrap();
        assert!(c.use_refresh_tokens);
        assert_eq!(c.scope, "openid profile email offline_access");
        for response_type in [None, Some("id_token token"), Some("id_token")] {
            let mut r = minimal();
            r.response_type = response_type.map(str::to_owned);
            r.use_refresh_tokens = Some(true);
            assert_eq!(field_error(r), "useRefreshTokens", "{response_type:?}");
        }
        let mut r = minimal();
        r.use_refresh_tokens = Some(false);
        assert!(!r.validate().unwrap().use_refresh_tokens);
    }

    #[test]
    fn dpop_needs_the_code_flow_and_is_off_by_default() {
        // docs/contract.md §1 `useDpop`: tokens from the authorization endpoint cannot be bound
        // (RFC 9449 §10), so with the implicit grant the error names the field.
        assert!(!minimal().validate().unwrap().use_dpop);
        let mut r = minimal();
        r.response_type = Some("code".into());
        r.use_dpop = Some(true);
        assert!(r.validate().unwrap().use_dpop);
        for response_type in [None, Some("id_token token"), Some("id_token")] {
            let mut r = minimal();
            r.response_type = response_type.map(str::to_owned);
            r.use_dpop = Some(true);
            let err = r.validate().unwrap_err();
            assert_eq!(field_error_of(&err), "useDpop", "{response_type:?}");
            assert!(err.to_string().contains("RFC 9449"), "{err}");
        }
    }
}
