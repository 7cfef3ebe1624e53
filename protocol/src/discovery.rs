//! The provider's OpenID Connect discovery document
//! (`{issuer}.well-known/openid-configuration`) and the checks that make it trustworthy.

use crate::error::{truncate, DiscoveryError, ValidationError};
use crate::json_object;
use crate::url::parse_http_url;

json_object! {
    /// The fields of an OpenID Provider Metadata document this app uses
    /// (OIDC Discovery 1.0 section 3). Unknown fields are ignored.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ProviderMetadata: FromJson + ToJson {
        /// The provider's issuer identifier; must equal the configured issuer exactly.
        pub issuer: String = "issuer",
        /// Where the browser is sent to sign in.
        pub authorization_endpoint: String = "authorization_endpoint",
        /// Where the provider publishes its signing keys.
        pub jwks_uri: String = "jwks_uri",
        /// Where the user's claims can be fetched with an access token.
        pub userinfo_endpoint: Option<String> = "userinfo_endpoint",
        /// OIDC RP-Initiated Logout endpoint, when the provider has one.
        pub end_session_endpoint: Option<String> = "end_session_endpoint",
        /// Supported `response_mode` values (`fragment`, `web_message`, …).
        pub response_modes_supported: Option<Vec<String>> = "response_modes_supported",
        /// Algorithms the provider may sign ID tokens with.
        pub id_token_signing_alg_values_supported: Option<Vec<String>> =
            "id_token_signing_alg_values_supported",
        /// Where an authorization code (or a refresh token) is exchanged for tokens
        /// (RFC 6749 §3.2).
        pub token_endpoint: Option<String> = "token_endpoint",
        /// Where a refresh token is revoked at logout (RFC 7009, RFC 8414 §2).
        pub revocation_endpoint: Option<String> = "revocation_endpoint",
        /// PKCE methods the provider supports (RFC 8414 §2); absent means "not said".
        pub code_challenge_methods_supported: Option<Vec<String>> =
            "code_challenge_methods_supported",
        /// Whether authorization responses carry `iss` (RFC 9207 §3).
        pub authorization_response_iss_parameter_supported: Option<bool> =
            "authorization_response_iss_parameter_supported",
    }
}

impl ProviderMetadata {
    /// Checks that the document belongs to `expected_issuer` (exact string match,
    /// OIDC Discovery 4.3) and that every endpoint is an absolute `https` URL
    /// (`http` only on `localhost`, `127.0.0.1` or `[::1]`) without a fragment.
    pub fn check(&self, expected_issuer: &str) -> Result<(), DiscoveryError> {
        if self.issuer != expected_issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: expected_issuer.to_owned(),
                found: truncate(&self.issuer, 200),
            });
        }
        let endpoints = [
            ("authorization_endpoint", Some(&self.authorization_endpoint)),
            ("jwks_uri", Some(&self.jwks_uri)),
            ("userinfo_endpoint", self.userinfo_endpoint.as_ref()),
            ("end_session_endpoint", self.end_session_endpoint.as_ref()),
            ("token_endpoint", self.token_endpoint.as_ref()),
            ("revocation_endpoint", self.revocation_endpoint.as_ref()),
        ];
        for (field, value) in endpoints {
            if let Some(url) = value {
                if !is_usable_endpoint(url) {
                    return Err(DiscoveryError::InvalidEndpoint { field });
                }
            }
        }
        Ok(())
    }

    /// What the authorization code flow needs besides [`Self::check`]: a token endpoint, and
    /// PKCE with `S256` unless the provider does not say (RFC 7636 §4.2, RFC 8414 §2).
    pub fn check_code_flow(&self) -> Result<&str, DiscoveryError> {
        let token_endpoint =
            self.token_endpoint
                .as_deref()
                .ok_or(DiscoveryError::MissingEndpoint {
                    field: "token_endpoint",
                })?;
        if let Some(methods) = &self.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err(DiscoveryError::NoPkceS256);
            }
        }
        Ok(token_endpoint)
    }

    /// RFC 9207 §2.4: the `iss` parameter of an authorization response must equal the
    /// issuer; when the provider advertises it, it must be present. This is the defence
    /// against a mix-up of two providers' responses.
    pub fn check_iss_parameter(
        &self,
        expected_issuer: &str,
        iss: Option<&str>,
    ) -> Result<(), ValidationError> {
        match iss {
            Some(iss) if iss == expected_issuer => Ok(()),
            Some(_) => Err(ValidationError::IssParameterMismatch),
            None if self.authorization_response_iss_parameter_supported == Some(true) => {
                Err(ValidationError::MissingIssParameter)
            }
            None => Ok(()),
        }
    }

    /// Whether the provider advertises `response_mode=web_message` (Auth0's postMessage
    /// page), which silent authentication prefers over a fragment to a callback page.
    pub fn supports_web_message(&self) -> bool {
        self.response_modes_supported
            .as_ref()
            .is_some_and(|modes| modes.iter().any(|m| m == "web_message"))
    }

    /// The algorithms of `implemented` that this provider may use: those it advertises, or,
    /// when it advertises none, `RS256` (which OIDC Discovery 3 requires every provider to
    /// support) if implemented. Feed the result to [`crate::jwt::check_header`].
    pub fn allowed_algs<'a>(&self, implemented: &[&'a str]) -> Vec<&'a str> {
        match &self.id_token_signing_alg_values_supported {
            Some(advertised) => implemented
                .iter()
                .copied()
                .filter(|alg| advertised.iter().any(|a| a == alg))
                .collect(),
            None => implemented
                .iter()
                .copied()
                .filter(|alg| *alg == "RS256")
                .collect(),
        }
    }
}

fn is_usable_endpoint(url: &str) -> bool {
    parse_http_url(url).is_some_and(|u| u.is_secure() && !u.rest.contains('#'))
}

/// Where `issuer` publishes its discovery document: the issuer without a trailing `/`, then
/// `/.well-known/openid-configuration` (OIDC Discovery 4.1).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Whether `url` may be trusted with tokens or keys: an absolute `https` URL (`http` only on
/// `localhost`, `127.0.0.1` or `[::1]`) without user info or fragment, the rule
/// [`ProviderMetadata::check`] applies to every endpoint. A server checks its configured
/// issuer with it at start-up, so a provider it could never trust is refused at once.
pub fn is_trusted_url(url: &str) -> bool {
    is_usable_endpoint(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ProviderMetadata {
        serde_json::from_value(serde_json::json!({
            "issuer": "https://id.example/",
            "authorization_endpoint": "https://id.example/authorize",
            "jwks_uri": "https://id.example/.well-known/jwks.json",
            "userinfo_endpoint": "https://id.example/userinfo",
            "response_modes_supported": ["query", "fragment", "form_post", "web_message"],
            "id_token_signing_alg_values_supported": ["HS256", "RS256"],
            "scopes_supported": ["openid"],
            "some_future_field": {"nested": true}
        }))
        .unwrap()
    }

    #[test]
    fn a_well_formed_document_for_our_issuer_passes_and_unknown_fields_are_ignored() {
        // OIDC Discovery 4: the document lives at {issuer}.well-known/openid-configuration.
        assert_eq!(meta().check("https://id.example/"), Ok(()));
        assert!(meta().end_session_endpoint.is_none());
    }

    #[test]
    fn a_document_for_another_issuer_is_refused() {
        // OIDC Discovery 4.3: the issuer must be identical to the one configured.
        for other in [
            "https://id.example",
            "https://ID.example/",
            "https://evil.example/",
        ] {
            let err = meta().check(other).unwrap_err();
            assert!(
                matches!(err, DiscoveryError::IssuerMismatch { .. }),
                "{other}"
            );
        }
    }

    #[test]
    fn the_issuer_mismatch_message_quotes_both_issuers() {
        // OIDC Discovery 4.3: the user (or the developer) sees which issuer the provider
        // claims and which one the app expects.
        let err = meta()
            .check("https://app.example/")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is \"https://id.example/\""), "{err}");
        assert!(err.contains("for \"https://app.example/\""), "{err}");
    }

    #[test]
    fn endpoints_must_be_absolute_https_urls() {
        // Tokens and keys never travel over plain http to a non-local host.
        type Setter = fn(&mut ProviderMetadata, String);
        let cases: [(&str, Setter); 4] = [
            ("authorization_endpoint", |m, v| {
                m.authorization_endpoint = v
            }),
            ("jwks_uri", |m, v| m.jwks_uri = v),
            ("userinfo_endpoint", |m, v| m.userinfo_endpoint = Some(v)),
            ("end_session_endpoint", |m, v| {
                m.end_session_endpoint = Some(v)
            }),
        ];
        for (field, set) in cases {
            for bad in [
                "http://id.example/x",
                "/authorize",
                "javascript:alert(1)",
                "https://user@id.example/x",
                "https://id.example/x#frag",
                "",
            ] {
                let mut m = meta();
                set(&mut m, bad.to_owned());
                assert_eq!(
                    m.check("https://id.example/"),
                    Err(DiscoveryError::InvalidEndpoint { field }),
                    "{field} = {bad}"
                );
            }
        }
    }

    #[test]
    fn plain_http_endpoints_are_allowed_on_loopback_hosts() {
        // docs/contract.md §1: the default config points at the local dev provider on http://localhost.
        let m = ProviderMetadata {
            issuer: "http://localhost:3000/".into(),
            authorization_endpoint: "http://localhost:3000/authorize".into(),
            jwks_uri: "http://127.0.0.1:3000/.well-known/jwks.json".into(),
            userinfo_endpoint: None,
            end_session_endpoint: Some("http://[::1]:3000/logout".into()),
            response_modes_supported: None,
            id_token_signing_alg_values_supported: None,
            token_endpoint: None,
            revocation_endpoint: None,
            code_challenge_methods_supported: None,
            authorization_response_iss_parameter_supported: None,
        };
        assert_eq!(m.check("http://localhost:3000/"), Ok(()));
    }

    #[test]
    fn the_discovery_url_is_the_issuer_without_its_trailing_slash_plus_the_well_known_path() {
        // OIDC Discovery 4.1: remove any terminating "/", then append the well-known path.
        for (issuer, url) in [
            (
                "https://tenant.eu.auth0.com/",
                "https://tenant.eu.auth0.com/.well-known/openid-configuration",
            ),
            (
                "https://id.example/realms/demo",
                "https://id.example/realms/demo/.well-known/openid-configuration",
            ),
            (
                "http://127.0.0.1:3000",
                "http://127.0.0.1:3000/.well-known/openid-configuration",
            ),
        ] {
            assert_eq!(discovery_url(issuer), url, "{issuer}");
        }
    }

    #[test]
    fn only_https_or_loopback_http_urls_are_trusted_with_keys() {
        // OIDC Discovery 7.1: TLS for discovery and keys; plain http only on loopback, where it
        // cannot be intercepted.
        for good in [
            "https://id.example/",
            "http://localhost:3000/",
            "http://127.0.0.1:3000",
            "http://[::1]:3000/",
        ] {
            assert!(is_trusted_url(good), "{good}");
        }
        for bad in [
            "http://id.example/",
            "http://idp:3000/",
            "https://user@id.example/",
            "https://id.example/#x",
            "ftp://id.example/",
            "id.example",
            "",
        ] {
            assert!(!is_trusted_url(bad), "{bad}");
        }
    }

    #[test]
    fn web_message_support_is_read_from_response_modes() {
        // Silent authentication uses web_message only when discovery advertises it (README).
        assert!(meta().supports_web_message());
        let mut m = meta();
        m.response_modes_supported = Some(vec!["fragment".into()]);
        assert!(!m.supports_web_message());
        m.response_modes_supported = None;
        assert!(!m.supports_web_message());
    }

    #[test]
    fn allowed_algorithms_are_those_implemented_and_advertised() {
        // OIDC Discovery 3: RS256 plus whatever else is implemented and advertised.
        assert_eq!(meta().allowed_algs(&["RS256", "ES256"]), vec!["RS256"]);
        let mut m = meta();
        m.id_token_signing_alg_values_supported = None;
        assert_eq!(m.allowed_algs(&["RS256", "ES256"]), vec!["RS256"]);
        m.id_token_signing_alg_values_supported = Some(vec!["ES256".into()]);
        assert!(m.allowed_algs(&["RS256"]).is_empty());
    }

    #[test]
    fn the_code_flow_needs_a_token_endpoint_and_s256() {
        // RFC 6749 §3.2 and RFC 7636 §4.2: no token endpoint or no S256, no code flow.
        let mut m = meta();
        assert_eq!(
            m.check_code_flow(),
            Err(DiscoveryError::MissingEndpoint {
                field: "token_endpoint"
            })
        );
        m.token_endpoint = Some("https://id.example/oauth/token".into());
        assert_eq!(m.check_code_flow(), Ok("https://id.example/oauth/token"));
        m.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert_eq!(m.check_code_flow(), Err(DiscoveryError::NoPkceS256));
        m.code_challenge_methods_supported = Some(vec!["plain".into(), "S256".into()]);
        assert!(m.check_code_flow().is_ok());
        // The token and revocation endpoints are held to the same https rule as the others.
        m.revocation_endpoint = Some("http://id.example/oauth/revoke".into());
        assert_eq!(
            m.check("https://id.example/"),
            Err(DiscoveryError::InvalidEndpoint {
                field: "revocation_endpoint"
            })
        );
    }

    #[test]
    fn the_iss_parameter_must_match_and_be_present_when_advertised() {
        // RFC 9207 §2.4: mix-up defence.
        let mut m = meta();
        let issuer = "https://id.example/";
        assert_eq!(m.check_iss_parameter(issuer, None), Ok(()));
        assert_eq!(m.check_iss_parameter(issuer, Some(issuer)), Ok(()));
        assert_eq!(
            m.check_iss_parameter(issuer, Some("https://evil.example/")),
            Err(ValidationError::IssParameterMismatch)
        );
        m.authorization_response_iss_parameter_supported = Some(true);
        assert_eq!(
            m.check_iss_parameter(issuer, None),
            Err(ValidationError::MissingIssParameter)
        );
        assert_eq!(m.check_iss_parameter(issuer, Some(issuer)), Ok(()));
        // Compared exactly: a trailing slash is another issuer.
        assert_eq!(
            m.check_iss_parameter(issuer, Some("https://id.example")),
            Err(ValidationError::IssParameterMismatch)
        );
    }
}
