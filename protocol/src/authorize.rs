//! The two URLs that send the browser to the provider: the `/authorize` request and the
//! logout URL.

use crate::config::{AuthConfig, ResponseType};
use crate::discovery::ProviderMetadata;
use crate::secret::{IdToken, Nonce, State};
use crate::url::append_query;

/// An OpenID Connect implicit-flow authentication request (OIDC Core 3.2.2.1).
#[derive(Debug, Clone, Copy)]
pub struct AuthorizeRequest<'a> {
    /// The provider's `authorization_endpoint` from discovery.
    pub authorization_endpoint: &'a str,
    /// What the provider is asked to return.
    pub response_type: ResponseType,
    /// The SPA's client id.
    pub client_id: &'a str,
    /// The app's origin + `redirectPath`, registered exactly at the provider.
    pub redirect_uri: &'a str,
    /// Space-separated scopes, including `openid`.
    pub scope: &'a str,
    /// The API identifier (Auth0's `audience` parameter), when configured.
    pub audience: Option<&'a str>,
    /// The fresh `state` of this attempt.
    pub state: &'a State,
    /// The fresh `nonce` of this attempt.
    pub nonce: &'a Nonce,
    /// `none` for silent authentication, `login` to force the login page, …
    pub prompt: Option<&'a str>,
    /// Pre-fills the login form.
    pub login_hint: Option<&'a str>,
    /// `web_message` for silent authentication when the provider supports it.
    pub response_mode: Option<&'a str>,
    /// The PKCE `code_challenge` (S256) of a code-flow login (RFC 7636 §4.3).
    pub code_challenge: Option<&'a str>,
    /// The RFC 7638 thumbprint of the browser's DPoP key (RFC 9449 §10): the code is redeemed
    /// only with a proof by that key.
    pub dpop_jkt: Option<&'a str>,
}

impl<'a> AuthorizeRequest<'a> {
    /// The request `config` makes at `metadata`'s endpoint, with no `prompt`, `login_hint` or
    /// `response_mode`: interactive and silent logins differ only in those.
    pub fn new(
        config: &'a AuthConfig,
        metadata: &'a ProviderMetadata,
        redirect_uri: &'a str,
        scope: &'a str,
        state: &'a State,
        nonce: &'a Nonce,
    ) -> Self {
        AuthorizeRequest {
            authorization_endpoint: &metadata.authorization_endpoint,
            response_type: config.response_type,
            client_id: &config.client_id,
            redirect_uri,
            scope,
            audience: config.audience.as_deref(),
            state,
            nonce,
            prompt: None,
            login_hint: None,
            response_mode: None,
            code_challenge: None,
            dpop_jkt: None,
        }
    }

    /// The full `/authorize` URL to navigate to (or to load in the silent-auth iframe).
    pub fn to_url(&self) -> String {
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", self.response_type.as_str()),
            ("client_id", self.client_id),
            ("redirect_uri", self.redirect_uri),
            ("scope", self.scope),
        ];
        if let Some(audience) = self.audience {
            params.push(("audience", audience));
        }
        params.push(("state", self.state.secret()));
        params.push(("nonce", self.nonce.secret()));
        let optional = [
            ("prompt", self.prompt),
            ("login_hint", self.login_hint),
            ("response_mode", self.response_mode),
        ];
        params.extend(optional.iter().filter_map(|(k, v)| v.map(|v| (*k, v))));
        if let Some(challenge) = self.code_challenge {
            params.push(("code_challenge", challenge));
            params.push(("code_challenge_method", "S256"));
        }
        if let Some(jkt) = self.dpop_jkt {
            params.push(("dpop_jkt", jkt));
        }
        append_query(self.authorization_endpoint, &params)
    }
}

/// The provider logout URL that returns the browser to `return_to`.
///
/// With an advertised `end_session_endpoint` (OIDC RP-Initiated Logout 1.0 §2):
/// `client_id` and `post_logout_redirect_uri`, and `id_token_hint` only when the configuration
/// asks for it (`logoutIdTokenHint`): the ID token carries the user's name and email, and a
/// logout URL stays in the browser's history. Otherwise Auth0's
/// `{issuer}v2/logout?client_id=…&returnTo=…`, which never needs the ID token.
pub fn logout_url(
    meta: &ProviderMetadata,
    config: &AuthConfig,
    return_to: &str,
    id_token: Option<&IdToken>,
) -> String {
    match meta.end_session_endpoint.as_deref() {
        Some(endpoint) => {
            let mut params = vec![
                ("client_id", config.client_id.as_str()),
                ("post_logout_redirect_uri", return_to),
            ];
            if let Some(hint) = id_token.filter(|_| config.logout_id_token_hint) {
                params.push(("id_token_hint", hint.secret()));
            }
            append_query(endpoint, &params)
        }
        None => {
            let issuer = &config.issuer;
            let slash = if issuer.ends_with('/') { "" } else { "/" };
            append_query(
                &format!("{issuer}{slash}v2/logout"),
                &[("client_id", &config.client_id), ("returnTo", return_to)],
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(end_session: Option<&str>) -> ProviderMetadata {
        ProviderMetadata {
            issuer: "https://t.eu.auth0.com/".into(),
            authorization_endpoint: "https://t.eu.auth0.com/authorize".into(),
            jwks_uri: "https://t.eu.auth0.com/.well-known/jwks.json".into(),
            userinfo_endpoint: None,
            end_session_endpoint: end_session.map(str::to_owned),
            response_modes_supported: None,
            id_token_signing_alg_values_supported: None,
            token_endpoint: None,
            revocation_endpoint: None,
            code_challenge_methods_supported: None,
            authorization_response_iss_parameter_supported: None,
        }
    }

    #[test]
    fn a_request_built_from_the_config_carries_its_client_response_type_and_audience() {
        // OIDC Core 3.2.2.1: response_type, client_id, redirect_uri, scope, state and nonce;
        // Auth0's `audience` picks the API.
        let config = crate::RawAuthConfig {
            issuer: Some("https://t.eu.auth0.com/".into()),
            client_id: Some("spa".into()),
            audience: Some("https://api.example".into()),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let metadata = meta(None);
        let state = State::new("s1".into());
        let nonce = Nonce::new("n1".into());
        let url = AuthorizeRequest {
            prompt: Some("none"),
            ..AuthorizeRequest::new(
                &config,
                &metadata,
                "https://app/callback",
                "openid",
                &state,
                &nonce,
            )
        }
        .to_url();
        assert!(
            url.starts_with("https://t.eu.auth0.com/authorize?"),
            "{url}"
        );
        for part in [
            "response_type=id_token%20token",
            "client_id=spa",
            "redirect_uri=https%3A%2F%2Fapp%2Fcallback",
            "audience=https%3A%2F%2Fapi.example",
            "state=s1",
            "nonce=n1",
            "prompt=none",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        assert!(!url.contains("login_hint"), "{url}");
    }

    #[test]
    fn the_authorize_url_carries_every_parameter_encoded() {
        // OIDC Core 3.2.2.1: response_type, client_id, redirect_uri, scope, state, nonce.
        let state = State::new("st/ate".into());
        let nonce = Nonce::new("n+once".into());
        let req = AuthorizeRequest {
            authorization_endpoint: "https://id.example/authorize",
            response_type: ResponseType::IdTokenToken,
            client_id: "spa",
            redirect_uri: "http://localhost:8080/callback",
            scope: "openid profile",
            audience: Some("https://api.example"),
            state: &state,
            nonce: &nonce,
            prompt: None,
            login_hint: None,
            response_mode: None,
            code_challenge: None,
            dpop_jkt: None,
        };
        assert_eq!(
            req.to_url(),
            "https://id.example/authorize?response_type=id_token%20token&client_id=spa\
             &redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcallback&scope=openid%20profile\
             &audience=https%3A%2F%2Fapi.example&state=st%2Fate&nonce=n%2Bonce"
        );
        let silent = AuthorizeRequest {
            audience: None,
            prompt: Some("none"),
            login_hint: Some("a@b.c"),
            response_mode: Some("web_message"),
            ..req
        };
        let url = silent.to_url();
        assert!(!url.contains("audience="));
        assert!(url.ends_with("&prompt=none&login_hint=a%40b.c&response_mode=web_message"));
        assert!(!url.contains("code_challenge"));
        // RFC 7636 §4.3: a code-flow request carries its challenge and says S256.
        let code = AuthorizeRequest {
            response_type: ResponseType::Code,
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ..req
        };
        let url = code.to_url();
        assert!(url.contains("response_type=code&"), "{url}");
        assert!(url.ends_with(
            "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        ));
        assert!(!url.contains("dpop_jkt"));
        // RFC 9449 §10: a DPoP login names its key's thumbprint.
        let bound = AuthorizeRequest {
            dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"),
            ..code
        };
        assert!(bound
            .to_url()
            .ends_with("&dpop_jkt=0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"));
    }

    fn config(issuer: &str, id_token_hint: bool) -> AuthConfig {
        crate::RawAuthConfig {
            issuer: Some(issuer.into()),
            client_id: Some("spa".into()),
            logout_id_token_hint: Some(id_token_hint),
            ..Default::default()
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn logout_uses_the_advertised_end_session_endpoint_without_the_id_token_by_default() {
        // OIDC RP-Initiated Logout 1.0 §2: client_id and post_logout_redirect_uri suffice; the
        // ID token (name, email) would stay in the browser's history inside this URL.
        let m = meta(Some("https://id.example/logout"));
        let id_token = IdToken::new("a.b.c".into());
        let url = logout_url(
            &m,
            &config("https://id.example/", false),
            "http://localhost:8080",
            Some(&id_token),
        );
        assert_eq!(
            url,
            "https://id.example/logout?client_id=spa\
             &post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8080"
        );
    }

    #[test]
    fn logout_sends_id_token_hint_only_when_the_config_asks_for_it() {
        // docs/contract.md §1 `logoutIdTokenHint`: Keycloak without a confirmation page needs it.
        let m = meta(Some("https://id.example/logout"));
        let id_token = IdToken::new("a.b.c".into());
        let with_hint = config("https://id.example/", true);
        assert_eq!(
            logout_url(&m, &with_hint, "http://localhost:8080", Some(&id_token)),
            "https://id.example/logout?client_id=spa\
             &post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8080&id_token_hint=a.b.c"
        );
        // Nothing to hint with (signed out already): the parameter is left out, not empty.
        assert!(!logout_url(&m, &with_hint, "x", None).contains("id_token_hint"));
    }

    #[test]
    fn logout_falls_back_to_auth0_v2_logout_which_never_carries_the_id_token() {
        // Auth0's /v2/logout (no end_session_endpoint advertised) needs only client_id.
        let m = meta(None);
        let id_token = IdToken::new("a.b.c".into());
        assert_eq!(
            logout_url(
                &m,
                &config("https://t.eu.auth0.com/", true),
                "https://app.example",
                Some(&id_token)
            ),
            "https://t.eu.auth0.com/v2/logout?client_id=spa&returnTo=https%3A%2F%2Fapp.example"
        );
        assert!(
            logout_url(&m, &config("https://t.eu.auth0.com", false), "x", None)
                .starts_with("https://t.eu.auth0.com/v2/logout?")
        );
    }

    #[test]
    fn an_authorize_request_prints_state_and_nonce_redacted() {
        // Rule: the values that bind a response to this browser are never logged.
        let (state, nonce) = (
            State::new("ST-s3cr3t".into()),
            Nonce::new("NONCE-s3cr3t".into()),
        );
        let request = AuthorizeRequest {
            authorization_endpoint: "https://id.example/authorize",
            response_type: ResponseType::Code,
            client_id: "spa",
            redirect_uri: "http://localhost:8080/callback",
            scope: "openid",
            audience: None,
            state: &state,
            nonce: &nonce,
            prompt: None,
            login_hint: None,
            response_mode: None,
            code_challenge: Some("challenge"),
            dpop_jkt: None,
        };
        crate::secret::assert_redacted(&format!("{request:?}"), &["ST-s3cr3t", "NONCE-s3cr3t"]);
    }
}
