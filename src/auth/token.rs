//! The token endpoint (authorization code flow): redeeming a code with its PKCE verifier,
//! renewing with a refresh token, and revoking it at logout. Every answer goes through the
//! same validation as an implicit response ([`super::validate`]).

use hashgate_protocol::{
    token::{authorization_code_form, refresh_token_form, revocation_form},
    AuthConfig, AuthorizationCode, AuthorizationResponse, CodeVerifier, Nonce, ProviderMetadata,
    RefreshToken, TokenEndpointResponse, TokenErrorResponse,
};

use super::browser;
use super::error::AuthError;
use super::session::Session;
use super::validate::{validate_tokens, KeyCache, TokenInput};

const TOKEN_ENDPOINT: &str = "identity provider's token endpoint";

/// The session from an authorization response to one of this tab's requests (a login's callback
/// or a silent attempt) that sent `nonce` and, in the code flow, `verifier`'s challenge: an error
/// becomes its sentence, tokens are validated, a code is redeemed at `redirect_uri`'s token
/// endpoint and its tokens validated. Tokens to a code-flow request are refused with
/// `tokens_refused`, a code to an implicit one likewise (RFC 6749 §4.1.2, §4.2.2).
#[allow(clippy::too_many_arguments)] // each is one value the exchange binds together
pub async fn complete(
    keys: KeyCache,
    config: &AuthConfig,
    metadata: &ProviderMetadata,
    response: AuthorizationResponse,
    nonce: Nonce,
    verifier: Option<CodeVerifier>,
    redirect_uri: &str,
    tokens_refused: AuthError,
    now: i64,
) -> Result<Session, AuthError> {
    match response {
        AuthorizationResponse::Error(err) => {
            // RFC 9207 §2.4: an `iss` naming another provider is a mix-up.
            if err.iss.is_some() {
                metadata
                    .check_iss_parameter(&config.issuer, err.iss.as_deref())
                    .map_err(AuthError::Response)?;
            }
            Err(AuthError::provider(
                &err.error,
                err.error_description.as_deref(),
            ))
        }
        AuthorizationResponse::Success(_) if config.response_type.is_code() => Err(tokens_refused),
        AuthorizationResponse::Success(response) => {
            let input = TokenInput::from_response(response, nonce);
            validate_tokens(keys, config, metadata, input, now).await
        }
        AuthorizationResponse::Code(response) => {
            let Some(verifier) = verifier.filter(|_| config.response_type.is_code()) else {
                return Err(AuthError::WrongFlow(
                    "an authorization code arrived, but the app is set up for the implicit flow",
                ));
            };
            metadata
                .check_iss_parameter(&config.issuer, response.iss.as_deref())
                .map_err(AuthError::Response)?;
            redeem_code(
                keys,
                config,
                metadata,
                &response.code,
                &verifier,
                redirect_uri,
                nonce,
                now,
            )
            .await
        }
    }
}

/// Redeems `code` (RFC 6749 §4.1.3 with RFC 7636 §4.5) and validates the tokens like any
/// login's: the ID token must carry `nonce`. `redirect_uri` is exactly the one the
/// authorization request sent.
#[allow(clippy::too_many_arguments)] // each is one value the exchange binds together
pub async fn redeem_code(
    keys: KeyCache,
    config: &AuthConfig,
    metadata: &ProviderMetadata,
    code: &AuthorizationCode,
    verifier: &CodeVerifier,
    redirect_uri: &str,
    nonce: Nonce,
    now: i64,
) -> Result<Session, AuthError> {
    let endpoint = metadata.check_code_flow()?;
    let body = authorization_code_form(code, verifier, redirect_uri, &config.client_id);
    let answer = call(endpoint, body).await?;
    let input = TokenInput::from_response(answer.into_token_response(), nonce);
    validate_tokens(keys, config, metadata, input, now).await
}

/// Renews `session` with `refresh_token` (RFC 6749 §6). The answer is validated like a login's,
/// except that the ID token may omit the nonce (OIDC Core §12.2). With rotation the answer
/// carries a new refresh token and the old one is spent; an answer without one leaves the
/// session without a refresh token (the next renewal uses the hidden iframe), because presenting
/// a spent token again would trip the provider's reuse detection and end every session.
pub async fn refresh(
    keys: KeyCache,
    config: &AuthConfig,
    metadata: &ProviderMetadata,
    session: &Session,
    refresh_token: &RefreshToken,
    now: i64,
) -> Result<Session, AuthError> {
    let endpoint = metadata.check_code_flow()?;
    let answer = call(
        endpoint,
        refresh_token_form(refresh_token, &config.client_id),
    )
    .await?;
    let mut response = answer.into_token_response();
    // RFC 6749 §5.1: without `scope` the granted scopes are the ones already held.
    if response.scope.is_none() {
        response.scope = Some(session.scope.clone());
    }
    let input = TokenInput {
        nonce_required: false,
        ..TokenInput::from_response(response, session.nonce.clone())
    };
    let mut renewed = validate_tokens(keys, config, metadata, input, now).await?;
    renewed.rotations = session.rotations + u32::from(renewed.refresh_token.is_some());
    Ok(renewed)
}

/// Revokes `refresh_token` at the provider's `revocation_endpoint` (RFC 7009), if it has one.
/// Best effort: a logout goes on whatever the provider answers.
pub async fn revoke(
    config: &AuthConfig,
    metadata: &ProviderMetadata,
    refresh_token: &RefreshToken,
) {
    use futures::future::{select, FutureExt as _};
    /// A provider that does not answer must not hold the logout up for long.
    const REVOKE_TIMEOUT_MS: u32 = 3_000;
    if let Some(endpoint) = metadata.revocation_endpoint.as_deref() {
        let body = revocation_form(refresh_token, &config.client_id);
        let request = browser::post_form(endpoint, body, "identity provider's revocation endpoint");
        let _ = select(
            request.boxed_local(),
            browser::sleep_ms(REVOKE_TIMEOUT_MS).boxed_local(),
        )
        .await;
    }
}

/// POSTs `body` to the token endpoint and reads its JSON: the tokens, or the provider's
/// RFC 6749 §5.2 error as a sentence.
async fn call(endpoint: &str, body: String) -> Result<TokenEndpointResponse, AuthError> {
    let (status, text) = browser::post_form(endpoint, body, TOKEN_ENDPOINT).await?;
    let bad = |reason: String| AuthError::BadDocument {
        what: TOKEN_ENDPOINT,
        reason,
    };
    if (200..300).contains(&status) {
        return browser::parse_json(&text).map_err(bad);
    }
    match browser::parse_json::<TokenErrorResponse>(&text) {
        Ok(error) => Err(AuthError::provider(
            &error.error,
            error.error_description.as_deref(),
        )),
        Err(_) => Err(bad(format!("the server answered HTTP {status}"))),
    }
}
