//! The token endpoint (authorization code flow): redeeming a code with its PKCE verifier,
//! renewing with a refresh token, and revoking it. Every answer goes through the same
//! validation as an implicit response ([`crate::validate`]); every request has a timeout, so a
//! stalled endpoint never holds the cross-tab renewal lock for ever. With `useDpop` every
//! request carries a DPoP proof ([`crate::dpop`]), a `use_dpop_nonce` answer is retried once
//! with the server's nonce (RFC 9449 §8), and only `token_type: DPoP` is accepted.

use hashgate_protocol::{
    token::{authorization_code_form, refresh_token_form, revocation_form},
    AuthorizationCode, AuthorizationResponse, CodeVerifier, Nonce, RefreshToken,
    TokenEndpointResponse, TokenErrorResponse, TokenResponse,
};

use crate::browser;
use crate::decide::{self, Failure, Mismatch};
use crate::dpop::{self, DpopKey};
use crate::error::AuthError;
use crate::session::Session;
use crate::setup::Setup;
use crate::spent;
use crate::validate::{validate_tokens, TokenInput};

const TOKEN_ENDPOINT: &str = "identity provider's token endpoint";
const REVOCATION_ENDPOINT: &str = "identity provider's revocation endpoint";
/// How long the token endpoint may take before the request counts as failed (a passing failure:
/// the session is kept and the renewal retried).
pub const TOKEN_TIMEOUT_MS: u32 = 10_000;
/// A provider that does not answer must not hold a logout up for long.
pub const REVOKE_TIMEOUT_MS: u32 = 3_000;

/// What one authorization request of this tab bound the answer to.
pub struct Pending {
    /// The nonce the request sent; the ID token must carry it.
    pub nonce: Nonce,
    /// The PKCE verifier (code flow only).
    pub verifier: Option<CodeVerifier>,
    /// Exactly the `redirect_uri` the request sent (code flow: the code is redeemed with it).
    pub redirect_uri: String,
}

/// The session from an authorization response to one of this tab's requests (a login's callback
/// or a silent attempt): an error becomes its sentence, tokens are validated, a code is redeemed
/// at the token endpoint and its tokens validated. Tokens to a code-flow request are refused with
/// `tokens_refused`, a code to an implicit one likewise (RFC 6749 §4.1.2, §4.2.2).
pub async fn complete(
    setup: &Setup,
    response: AuthorizationResponse,
    pending: Pending,
    tokens_refused: AuthError,
    now: i64,
) -> Result<Session, AuthError> {
    let config = &setup.config;
    match response {
        AuthorizationResponse::Error(err) => {
            // RFC 9207 §2.4: an `iss` naming another provider is a mix-up.
            if err.iss.is_some() {
                setup
                    .metadata
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
            let input = TokenInput::from_response(response, pending.nonce);
            validate_tokens(setup, input, now).await
        }
        AuthorizationResponse::Code(response) => {
            let Some(verifier) = pending.verifier.filter(|_| config.response_type.is_code()) else {
                return Err(AuthError::WrongFlow(
                    "an authorization code arrived, but the app is set up for the implicit flow",
                ));
            };
            setup
                .metadata
                .check_iss_parameter(&config.issuer, response.iss.as_deref())
                .map_err(AuthError::Response)?;
            redeem_code(
                setup,
                &response.code,
                &verifier,
                &pending.redirect_uri,
                pending.nonce,
                now,
            )
            .await
        }
    }
}

/// Redeems `code` (RFC 6749 §4.1.3 with RFC 7636 §4.5) and validates the tokens like any
/// login's: the ID token must carry `nonce`.
async fn redeem_code(
    setup: &Setup,
    code: &AuthorizationCode,
    verifier: &CodeVerifier,
    redirect_uri: &str,
    nonce: Nonce,
    now: i64,
) -> Result<Session, AuthError> {
    let endpoint = setup.metadata.check_code_flow()?;
    let body = authorization_code_form(code, verifier, redirect_uri, &setup.config.client_id);
    let key = dpop::key_if_used(&setup.config).await?;
    let answer = call(endpoint, &body, key.as_deref()).await?;
    let input = TokenInput::from_response(answer.into_token_response(), nonce);
    let mut session = validate_tokens(setup, input, now).await?;
    session.dpop_jkt = key.map(|key| key.thumbprint.clone());
    Ok(session)
}

/// Renews `session` with `refresh_token` (RFC 6749 §6), whose spent-record fingerprint is
/// `fingerprint`. The token counts as spent as soon as the provider has answered anything but a
/// passing failure. The answer is validated like a login's, except that the ID token may omit
/// the nonce, or be absent altogether (OIDC Core §12.2: the current ID token's claims are kept);
/// a new ID token must match the current session before anything is kept. A refused answer's
/// refresh token is revoked. An answer without a refresh token leaves the session without one
/// (the next renewal uses the hidden iframe).
pub async fn refresh(
    setup: &Setup,
    session: &Session,
    refresh_token: &RefreshToken,
    fingerprint: &str,
    now: i64,
) -> Result<Session, AuthError> {
    let endpoint = setup.metadata.check_code_flow()?;
    let key = dpop::key_if_used(&setup.config).await?;
    let body = refresh_token_form(refresh_token, &setup.config.client_id);
    let answer = call(endpoint, &body, key.as_deref()).await;
    match &answer {
        Err(e) if decide::classify(e, true) == Failure::Passing => {}
        _ => spent::record(fingerprint, now),
    }
    let mut response = answer?.into_token_response();
    // RFC 6749 §5.1: without `scope` the granted scopes are the ones already held.
    if response.scope.is_none() {
        response.scope = Some(session.scope.clone());
    }
    let new_refresh_token = response.refresh_token.clone();
    let checked = check_refresh_answer(setup, session, response, now).await;
    if checked.is_err() {
        if let Some(token) = &new_refresh_token {
            revoke(setup, token).await;
        }
    }
    let mut renewed = checked?;
    renewed.rotations = session.rotations + u32::from(renewed.refresh_token.is_some());
    renewed.dpop_jkt = key.map(|key| key.thumbprint.clone());
    Ok(renewed)
}

async fn check_refresh_answer(
    setup: &Setup,
    session: &Session,
    response: TokenResponse,
    now: i64,
) -> Result<Session, AuthError> {
    if response.id_token.is_none() {
        return keep_id_token(setup, session, response, now);
    }
    let input = TokenInput {
        nonce_required: false,
        ..TokenInput::from_response(response, session.nonce.clone())
    };
    let renewed = validate_tokens(setup, input, now).await?;
    match decide::same_session(&session.claims, &renewed.claims) {
        Ok(()) => Ok(renewed),
        Err(Mismatch::OtherUser) => Err(AuthError::UserChanged),
        Err(Mismatch::OtherSession) => Err(AuthError::OtherSession),
    }
}

/// A refresh answer without an ID token (OIDC Core §12.2 allows it): the new access token and
/// refresh token, after the `token_type`, `expires_in` and scope checks, with the current ID
/// token's claims.
fn keep_id_token(
    setup: &Setup,
    session: &Session,
    response: TokenResponse,
    now: i64,
) -> Result<Session, AuthError> {
    response
        .check_token_type(setup.config.use_dpop)
        .map_err(AuthError::Response)?;
    let expires_at = response.expires_at(now);
    let access_token = match setup.config.response_type.includes_access_token() {
        true => Some(
            response
                .access_token
                .ok_or(AuthError::Incomplete("it has no access token"))?,
        ),
        false => None,
    };
    Ok(Session {
        access_token,
        expires_at,
        scope: response.scope.unwrap_or_else(|| session.scope.clone()),
        received_at: now,
        refresh_token: response
            .refresh_token
            .filter(|_| setup.config.use_refresh_tokens),
        ..session.clone()
    })
}

/// Revokes `refresh_token` at the provider's `revocation_endpoint` (RFC 7009), if it has one,
/// with a DPoP proof when the tokens are bound (for a provider that asks for one). Best effort,
/// within [`REVOKE_TIMEOUT_MS`]: a logout goes on whatever the provider answers.
pub async fn revoke(setup: &Setup, refresh_token: &RefreshToken) {
    if let Some(endpoint) = setup.metadata.revocation_endpoint.as_deref() {
        let body = revocation_form(refresh_token, &setup.config.client_id);
        // Never a new key for a revocation: after a logout elsewhere deleted it there is none.
        let key = match setup.config.use_dpop {
            true => dpop::existing_key().await,
            false => None,
        };
        let proof = match key {
            Some(key) => dpop::proof(&key, "POST", endpoint, None).await.ok(),
            None => None,
        };
        let _ = browser::post_form(
            endpoint,
            &body,
            proof.as_deref(),
            REVOCATION_ENDPOINT,
            REVOKE_TIMEOUT_MS,
        )
        .await;
    }
}

/// Revokes `refresh_token` from a page that is unloading (`navigator.sendBeacon`), where a
/// `fetch` would be cancelled; the answer is never read. A beacon carries no headers, so no
/// DPoP proof: RFC 7009 revocation does not ask for one.
pub fn revoke_on_unload(setup: &Setup, refresh_token: &RefreshToken) {
    if let Some(endpoint) = setup.metadata.revocation_endpoint.as_deref() {
        let body = revocation_form(refresh_token, &setup.config.client_id);
        browser::send_beacon_form(endpoint, &body);
    }
}

/// POSTs `body` to the token endpoint, with a proof by `key` when the tokens are bound, and
/// reads its JSON: the tokens, or the provider's RFC 6749 §5.2 error as a sentence. An HTTP 5xx
/// without an OAuth error is [`AuthError::ServerBusy`]. A `use_dpop_nonce` error that brings a
/// `DPoP-Nonce` is answered once, with a new proof carrying the nonce (RFC 9449 §8).
async fn call(
    endpoint: &str,
    body: &str,
    key: Option<&DpopKey>,
) -> Result<TokenEndpointResponse, AuthError> {
    let mut nonce_sent = false;
    loop {
        let proof = match key {
            Some(key) => Some(dpop::proof(key, "POST", endpoint, None).await?),
            None => None,
        };
        let response = browser::post_form(
            endpoint,
            body,
            proof.as_deref(),
            TOKEN_ENDPOINT,
            TOKEN_TIMEOUT_MS,
        )
        .await?;
        let new_nonce = response.dpop_nonce.is_some();
        if let Some(nonce) = &response.dpop_nonce {
            dpop::remember_nonce(endpoint, nonce);
        }
        match read_answer(response.status, &response.text) {
            Err(AuthError::Provider { code, .. })
                if code == "use_dpop_nonce" && key.is_some() && new_nonce && !nonce_sent =>
            {
                nonce_sent = true;
            }
            answer => return answer,
        }
    }
}

fn read_answer(status: u16, text: &str) -> Result<TokenEndpointResponse, AuthError> {
    let bad = |reason: String| AuthError::BadDocument {
        what: TOKEN_ENDPOINT,
        reason,
    };
    if (200..300).contains(&status) {
        return crate::json::read(text).map_err(bad);
    }
    match crate::json::read::<TokenErrorResponse>(text) {
        Ok(error) => Err(AuthError::provider(
            &error.error,
            error.error_description.as_deref(),
        )),
        Err(_) if status >= 500 => Err(AuthError::ServerBusy {
            what: TOKEN_ENDPOINT,
            status,
        }),
        Err(_) => Err(bad(format!("the server answered HTTP {status}"))),
    }
}
