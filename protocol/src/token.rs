//! The token endpoint (RFC 6749 §3.2): the form bodies the app posts there and at the
//! revocation endpoint (RFC 7009), and the JSON answers it reads back.
//!
//! A public client (a SPA) authenticates with nothing but its `client_id`; what binds a code to
//! this browser is the PKCE verifier (RFC 7636), and what binds a refresh token to this app is
//! rotation at the provider.

use crate::fragment::TokenResponse;
use crate::json_object;
use crate::secret::{AccessToken, AuthorizationCode, CodeVerifier, IdToken, RefreshToken, State};
use crate::url::encode_component;

/// `application/x-www-form-urlencoded` body of `pairs` (RFC 6749 Appendix B).
fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&encode_component(name));
        out.push('=');
        out.push_str(&encode_component(value));
    }
    out
}

/// The body that redeems `code` (RFC 6749 §4.1.3, RFC 7636 §4.5): `grant_type`, `code`,
/// `code_verifier`, `redirect_uri` (exactly the one the authorization request sent) and
/// `client_id`.
pub fn authorization_code_form(
    code: &AuthorizationCode,
    verifier: &CodeVerifier,
    redirect_uri: &str,
    client_id: &str,
) -> String {
    form(&[
        ("grant_type", "authorization_code"),
        ("code", code.secret()),
        ("code_verifier", verifier.secret()),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
    ])
}

/// The body that renews with `refresh_token` (RFC 6749 §6).
pub fn refresh_token_form(refresh_token: &RefreshToken, client_id: &str) -> String {
    form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.secret()),
        ("client_id", client_id),
    ])
}

/// The body that revokes `refresh_token` at logout (RFC 7009 §2.1).
pub fn revocation_form(refresh_token: &RefreshToken, client_id: &str) -> String {
    form(&[
        ("token", refresh_token.secret()),
        ("token_type_hint", "refresh_token"),
        ("client_id", client_id),
    ])
}

json_object! {
    /// A successful token endpoint answer as JSON (RFC 6749 §5.1, OIDC Core §3.1.3.3). Every
    /// field is optional here, so that a missing one is reported by the same checks as for the
    /// implicit flow (which name what is missing) rather than as malformed JSON. The tokens are
    /// secrets: `Debug` prints them as `[redacted]`.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct TokenEndpointResponse: FromJson + ToJson {
        /// The access token.
        pub access_token: Option<AccessToken> = "access_token",
        /// Must be `Bearer`.
        pub token_type: Option<String> = "token_type",
        /// Seconds until the access token expires.
        pub expires_in: Option<u64> = "expires_in",
        /// The ID token.
        pub id_token: Option<IdToken> = "id_token",
        /// The granted scopes.
        pub scope: Option<String> = "scope",
        /// A refresh token, with `offline_access` and a provider that issues them.
        pub refresh_token: Option<RefreshToken> = "refresh_token",
    }
}

impl TokenEndpointResponse {
    /// The tokens, in the shape the one validation path takes; `state` stays empty (the
    /// token endpoint has none: the code it redeemed was already matched to its login).
    /// An empty string counts as absent.
    pub fn into_token_response(self) -> TokenResponse {
        // One check for the three tokens, on their text: one copy in the download.
        let present = |t: Option<String>| t.filter(|t| !t.is_empty());
        TokenResponse {
            access_token: present(self.access_token.map(AccessToken::into_secret))
                .map(AccessToken::new),
            id_token: present(self.id_token.map(IdToken::into_secret)).map(IdToken::new),
            token_type: self.token_type,
            expires_in: self.expires_in,
            scope: self.scope,
            state: None::<State>,
            refresh_token: present(self.refresh_token.map(RefreshToken::into_secret))
                .map(RefreshToken::new),
        }
    }
}

json_object! {
    /// A token endpoint error as JSON (RFC 6749 §5.2): `invalid_grant`, `invalid_request`, ….
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TokenErrorResponse: FromJson + ToJson {
        /// The error code.
        pub error: String = "error",
        /// The provider's human-readable text; show it only as escaped text.
        pub error_description: Option<String> = "error_description",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_redemption_body_carries_the_verifier_and_the_exact_redirect_uri() {
        // RFC 6749 §4.1.3 and RFC 7636 §4.5: grant_type, code, code_verifier, redirect_uri,
        // client_id; every value form-encoded.
        let body = authorization_code_form(
            &AuthorizationCode::new("c/1+2".into()),
            &CodeVerifier::new("v-._~".into()),
            "http://localhost:8080/callback",
            "spa",
        );
        assert_eq!(
            body,
            "grant_type=authorization_code&code=c%2F1%2B2&code_verifier=v-._~\
             &redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcallback&client_id=spa"
        );
    }

    #[test]
    fn refresh_and_revocation_bodies_name_the_token_and_the_client() {
        // RFC 6749 §6 and RFC 7009 §2.1.
        let token = RefreshToken::new("rt&x".into());
        assert_eq!(
            refresh_token_form(&token, "spa"),
            "grant_type=refresh_token&refresh_token=rt%26x&client_id=spa"
        );
        assert_eq!(
            revocation_form(&token, "spa"),
            "token=rt%26x&token_type_hint=refresh_token&client_id=spa"
        );
    }

    #[test]
    fn a_token_endpoint_answer_becomes_the_same_token_response_as_a_fragment() {
        // OIDC Core §3.1.3.3: the same tokens, validated by the same path.
        let json = serde_json::json!({
            "access_token": "at", "token_type": "Bearer", "expires_in": 3600,
            "id_token": "a.b.c", "scope": "openid offline_access", "refresh_token": "rt",
            "unknown": [1]
        });
        let parsed: TokenEndpointResponse = serde_json::from_value(json).unwrap();
        let r = parsed.into_token_response();
        assert_eq!(r.access_token.unwrap().secret(), "at");
        assert_eq!(r.id_token.unwrap().secret(), "a.b.c");
        assert_eq!(r.token_type.as_deref(), Some("Bearer"));
        assert_eq!(r.expires_in, Some(3600));
        assert_eq!(r.refresh_token.unwrap().secret(), "rt");
        assert!(r.state.is_none());
        // Missing or empty tokens are absent, so the usual checks name them.
        let empty: TokenEndpointResponse =
            serde_json::from_value(serde_json::json!({"access_token": "", "id_token": null}))
                .unwrap();
        let r = empty.into_token_response();
        assert!(r.access_token.is_none() && r.id_token.is_none() && r.refresh_token.is_none());
    }

    #[test]
    fn an_error_answer_keeps_its_code_and_description() {
        // RFC 6749 §5.2.
        let e: TokenErrorResponse = serde_json::from_value(
            serde_json::json!({"error": "invalid_grant", "error_description": "spent"}),
        )
        .unwrap();
        assert_eq!(e.error, "invalid_grant");
        assert_eq!(e.error_description.as_deref(), Some("spent"));
    }

    #[test]
    fn a_token_endpoint_answer_prints_its_tokens_redacted() {
        // Rule: tokens are never logged, whichever side read the answer.
        use crate::json::FromJson;
        let text = r#"{"access_token":"AT-s3cr3t","token_type":"Bearer","id_token":"ID-s3cr3t","refresh_token":"RT-s3cr3t"}"#;
        let ours = TokenEndpointResponse::from_json(&crate::json::parse(text)).unwrap();
        let serde: TokenEndpointResponse = serde_json::from_str(text).unwrap();
        let secrets = ["AT-s3cr3t", "ID-s3cr3t", "RT-s3cr3t"];
        for printed in [format!("{ours:?}"), format!("{serde:?}")] {
            crate::secret::assert_redacted(&printed, &secrets);
        }
        crate::secret::assert_redacted(&format!("{:?}", ours.into_token_response()), &secrets);
    }
}
