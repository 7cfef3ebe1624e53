//! The token endpoint (`POST /oauth/token`, RFC 6749 §3.2) for the authorization code
//! grant with PKCE (§4.1.3, RFC 7636 §4.6) and rotating refresh tokens (§6, RFC 9700
//! §4.14.2), and the revocation endpoint (`POST /oauth/revoke`, RFC 7009).
//!
//! Clients are public (`token_endpoint_auth_methods_supported: ["none"]`): they name
//! themselves with `client_id`, and a browser's `Origin` must be one of that client's
//! web origins. Requests are `application/x-www-form-urlencoded` only. Every answer is
//! JSON with `Cache-Control: no-store` and `Pragma: no-cache`; errors are RFC 6749 §5.2
//! objects, never pages, and carry the CORS headers too (the router adds them), so a
//! browser app can read why. Codes, verifiers and tokens are never logged.
//!
//! A `DPoP` header (RFC 9449) binds what the token endpoint issues to the proof's key:
//! `token_type: DPoP` and `cnf.jkt` in the access token (§5, §6.1), the refresh-token
//! family of these public clients (§5), and a code requested with `dpop_jkt` is
//! redeemed only with that key (§10). The proof itself is checked in [`crate::dpop`].

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::config::{ClientConfig, OFFLINE_ACCESS};
use crate::dpop::{self, Claim, Expected, Proof, ProofError};
use crate::error::IdpError;
use crate::grants::{self, CodeGrant, FamilyGrant};
use crate::request::MAX_PARAM_BYTES;
use crate::rules::{self, CustomClaims, LoginInput, Outcome, Requester};
use crate::state::AppState;
use crate::store::{Redeemed, RefreshRecord, Rotation};
use crate::tokens::{self, Grant};
use crate::util;
use crate::web::ClientIp;

/// An RFC 6749 §5.2 error answer.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: Cow<'static, str>,
    /// The client tried HTTP authentication: RFC 6749 §5.2 wants a challenge back.
    challenge: bool,
}

impl OAuthError {
    fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            challenge: false,
        }
    }

    fn request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    /// RFC 9449 §7.1: the proof is missing, malformed or fails a check.
    fn dpop(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_dpop_proof", description)
    }

    fn client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    /// An internal failure: logged here, answered without its details.
    fn internal(e: &IdpError) -> Self {
        tracing::error!(error = %e, "token endpoint failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the identity provider hit an internal error",
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::info!(
                error = self.error,
                status = self.status.as_u16(),
                "token request refused"
            );
        }
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut res = no_store(self.status, Json(body).into_response());
        if self.challenge {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"hashgate-idp\""),
            );
        }
        res
    }
}

/// RFC 6749 §5.1: token responses must not be cached.
fn no_store(status: StatusCode, mut res: Response) -> Response {
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

type Answer<T = Value> = Result<T, OAuthError>;

/// A form-encoded request body, each parameter at most once (RFC 6749 §3.2).
struct Form(Vec<(String, String)>);

/// Parameters whose values are no secret; every other value (`code`,
/// `code_verifier`, `refresh_token`, `token`, `client_secret`, ...) is redacted.
const PUBLIC_PARAMS: &[&str] = &[
    "grant_type",
    "client_id",
    "redirect_uri",
    "scope",
    "token_type_hint",
];

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| {
                let shown = if PUBLIC_PARAMS.contains(&k.as_str()) {
                    v.as_str()
                } else {
                    util::REDACTED
                };
                (k, shown)
            }))
            .finish()
    }
}

impl Form {
    /// The value of `name`, if present and not empty (RFC 6749 §3.2: an empty
    /// parameter is treated as omitted).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn require(&self, name: &'static str) -> Answer<&str> {
        self.get(name)
            .ok_or_else(|| OAuthError::request(format!("{name} is required")))
    }
}

/// Reads the body as RFC 6749 Appendix B form parameters.
fn read_form(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Answer<Form> {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_encoded {
        return Err(OAuthError::request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = body.map_err(|rejection| {
        let status = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        OAuthError::new(
            status,
            "invalid_request",
            "the request body could not be read",
        )
    })?;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs
        .iter()
        .any(|(k, v)| k.len() > MAX_PARAM_BYTES || v.len() > MAX_PARAM_BYTES)
    {
        return Err(OAuthError::request("a parameter is too long"));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        // The name is ours to echo only if it is one we know; others are summarised.
        let name = match k.as_str() {
            "grant_type" | "code" | "code_verifier" | "redirect_uri" | "client_id"
            | "refresh_token" | "scope" | "token" | "token_type_hint" => k.clone(),
            _ => "a parameter".to_owned(),
        };
        return Err(OAuthError::request(format!(
            "{name} appears more than once"
        )));
    }
    Ok(Form(pairs))
}

/// The public client the request names, if a browser sending it may act for it.
fn identify<'a>(state: &'a AppState, headers: &HeaderMap, form: &Form) -> Answer<&'a ClientConfig> {
    if headers.contains_key(header::AUTHORIZATION) {
        let mut e = OAuthError::client(
            "client authentication is not supported: clients of this provider are public",
        );
        e.challenge = true;
        return Err(e);
    }
    if form.get("client_secret").is_some() || form.get("client_assertion").is_some() {
        return Err(OAuthError::client(
            "client authentication is not supported: clients of this provider are public",
        ));
    }
    let client_id = form.require("client_id")?;
    let client = state
        .config
        .client(client_id)
        .ok_or_else(|| OAuthError::client("unknown client"))?;
    // A browser names the page's origin: only the client's own web origins may use
    // its codes and refresh tokens (Auth0 "Allowed Web Origins").
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = client
            .web_origins
            .iter()
            .any(|o| o.origin().ascii_serialization().as_bytes() == origin.as_bytes());
        if !allowed {
            return Err(OAuthError::client(
                "this origin is not an allowed web origin of the client",
            ));
        }
    }
    Ok(client)
}

fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(512)
        .collect()
}

/// `POST /oauth/token`.
pub async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let from = Requester {
        ip,
        user_agent: user_agent(&headers),
    };
    let mut res = match token_answer(&state, &headers, body, from).await {
        Ok(body) => no_store(StatusCode::OK, Json(body).into_response()),
        Err(e) => e.into_response(),
    };
    // RFC 9449 §8: with nonces required, every answer says which one to use next.
    if let Some(nonces) = &state.dpop_nonces {
        if let Ok(v) = HeaderValue::from_str(&nonces.current(state.now())) {
            res.headers_mut().insert("dpop-nonce", v);
        }
    }
    res
}

/// The request's DPoP proof, checked (RFC 9449 §4.3); `None` when there is none and the
/// client does not require one.
fn dpop_proof(
    state: &AppState,
    headers: &HeaderMap,
    client: &ClientConfig,
) -> Answer<Option<Proof>> {
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        if client.dpop_bound_access_tokens {
            return Err(OAuthError::dpop("this client must send a DPoP proof"));
        }
        return Ok(None);
    };
    // RFC 9449 §4.3 step 1: exactly one.
    if values.next().is_some() {
        return Err(OAuthError::dpop("more than one DPoP header"));
    }
    let text = value
        .to_str()
        .map_err(|_| OAuthError::dpop("the DPoP header is not a JWT"))?;
    let url = state.endpoint("oauth/token");
    let expected = Expected {
        method: "POST",
        url: &url,
        now: state.now(),
        window_secs: i64::try_from(state.config.dpop.proof_window_secs).unwrap_or(i64::MAX),
    };
    match dpop::verify(text, expected, state.dpop_nonces.as_ref()) {
        Ok(proof) => Ok(Some(proof)),
        Err(ProofError::Invalid(why)) => Err(OAuthError::dpop(why)),
        Err(ProofError::UseNonce) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "use_dpop_nonce",
            "the DPoP proof must carry the nonce in the DPoP-Nonce header",
        )),
    }
}

/// Remembers the proof's `jti` once the grant it came with proved valid (RFC 9449
/// §11.1): the same proof is refused from then on.
fn claim_proof(state: &AppState, proof: Option<&Proof>, now: i64) -> Answer<()> {
    let Some(proof) = proof else {
        return Ok(());
    };
    match state.dpop_replay.claim(proof, now) {
        Claim::Fresh => Ok(()),
        Claim::Replayed => Err(OAuthError::dpop("the DPoP proof was already used")),
        Claim::Full => {
            tracing::warn!("the DPoP replay memory is full; token requests with a proof wait");
            Err(OAuthError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many DPoP proofs right now; try again in a moment",
            ))
        }
    }
}

/// Whether the proof's key is the one `bound` names (no binding: any proof or none).
fn same_key(bound: Option<&str>, proof: Option<&Proof>) -> bool {
    bound.is_none_or(|jkt| proof.is_some_and(|p| util::ct_eq(&p.jkt, jkt)))
}

async fn token_answer(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    from: Requester,
) -> Answer {
    let form = read_form(headers, body)?;
    let client = identify(state, headers, &form)?;
    let grant_type = form.require("grant_type")?;
    let needed = match grant_type {
        "authorization_code" | "refresh_token" => grant_type,
        _ => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "supported grant types are authorization_code and refresh_token",
            ))
        }
    };
    if !client.allows(needed) {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            format!("the {needed} grant is not enabled for this client"),
        ));
    }
    let proof = dpop_proof(state, headers, client)?;
    if needed == "authorization_code" {
        let client_id = client.client_id.clone();
        state
            .blocking(move |state| Ok(exchange_code(state, &client_id, &form, proof.as_ref())))
            .await
            .map_err(|e| OAuthError::internal(&e))?
    } else {
        refresh(state, client, &form, from, proof).await
    }
}

/// The token response of RFC 6749 §5.1 (and OIDC Core §3.1.3.3); `token_type` is
/// `DPoP` for a key-bound access token (RFC 9449 §5).
fn token_response(issued: tokens::Issued, refresh_token: Option<String>, dpop: bool) -> Value {
    let mut m = Map::new();
    if let Some(at) = issued.access_token {
        m.insert("access_token".into(), json!(at));
    }
    if let Some(id) = issued.id_token {
        m.insert("id_token".into(), json!(id));
    }
    m.insert(
        "token_type".into(),
        json!(if dpop { "DPoP" } else { "Bearer" }),
    );
    m.insert("expires_in".into(), json!(issued.expires_in));
    m.insert("scope".into(), json!(issued.scope));
    if let Some(rt) = refresh_token {
        m.insert("refresh_token".into(), json!(rt));
    }
    Value::Object(m)
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
fn verifier_shaped(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

const BAD_CODE: &str = "the authorization code is invalid, expired or was already used";

/// `grant_type=authorization_code`. Blocking (storage, signing). A check that fails
/// leaves the code redeemable by the client it belongs to; only a successful
/// exchange uses it up.
fn exchange_code(state: &AppState, client_id: &str, form: &Form, proof: Option<&Proof>) -> Answer {
    let client = state
        .config
        .client(client_id)
        .ok_or_else(|| OAuthError::client("unknown client"))?;
    let code = form.require("code")?;
    let redirect_uri = form.require("redirect_uri")?;
    let verifier = form.require("code_verifier")?;
    if !verifier_shaped(verifier) {
        return Err(OAuthError::request(
            "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
        ));
    }
    let now = state.now();
    let code_hash = util::sha256_b64(code);
    let internal = |e: crate::store::StoreError| OAuthError::internal(&e.into());
    let record = state.store.code(&code_hash).map_err(internal)?;
    let Some(record) = record else {
        return Err(OAuthError::grant(BAD_CODE));
    };
    if record.used_at.is_some() {
        return Err(replayed_code(state, &code_hash));
    }
    if record.expires_at <= now {
        return Err(OAuthError::grant(BAD_CODE));
    }
    let grant: CodeGrant = grants::from_json(&record.data).map_err(|e| OAuthError::internal(&e))?;
    // RFC 6749 §4.1.3: the code was issued to this client, for this redirect URI.
    if grant.client_id != client.client_id {
        return Err(OAuthError::grant(BAD_CODE));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(OAuthError::grant(
            "redirect_uri differs from the one of the authorization request",
        ));
    }
    // RFC 7636 §4.6.
    if !util::ct_eq(&util::s256(verifier), &grant.code_challenge) {
        return Err(OAuthError::grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    // The code is bound to its login session: a logout since ends it.
    let session = state
        .store
        .session_by_sid(&grant.sid, util::now())
        .map_err(internal)?;
    if session.is_none() {
        return Err(OAuthError::grant(
            "the login session of this code has ended",
        ));
    }
    let user = state
        .store
        .user_by_id(&grant.user_id)
        .map_err(internal)?
        .ok_or_else(|| OAuthError::grant(BAD_CODE))?;
    // RFC 9449 §10: a code requested with dpop_jkt is redeemed with that key only.
    if !same_key(grant.dpop_jkt.as_deref(), proof) {
        return Err(OAuthError::grant(
            "the authorization code is bound to another DPoP key",
        ));
    }
    claim_proof(state, proof, now)?;
    let jkt = proof.map(|p| p.jkt.as_str());

    let family = if grant.offline && client.issues_refresh_tokens() {
        Some(grants::new_family(client, &grant, jkt, now).map_err(|e| OAuthError::internal(&e))?)
    } else {
        None
    };
    let issued = tokens::mint_grant(
        state,
        &Grant {
            client_id: &grant.client_id,
            audience: grant.audience.as_deref(),
            scopes: &grant.scopes,
            access_token: true,
            id_token: grant.id_token,
            nonce: grant.nonce.as_deref(),
            sid: &grant.sid,
            auth_time: grant.auth_time,
            jkt,
        },
        &user,
        &grant.custom_claims(),
        now,
    )
    .map_err(|e| OAuthError::internal(&e))?;
    // Minted first, stored last: if a concurrent exchange won, these tokens are dropped
    // unseen.
    let redeemed = state
        .store
        .redeem_code(&code_hash, now, family.as_ref().map(|(_, f)| f))
        .map_err(internal)?;
    if redeemed == Redeemed::Refused {
        return Err(replayed_code(state, &code_hash));
    }
    tracing::info!(
        client_id = %grant.client_id,
        sub = %user.user_id,
        refresh_token = family.is_some(),
        dpop = jkt.is_some(),
        "authorization code exchanged"
    );
    Ok(token_response(
        issued,
        family.map(|(value, _)| value),
        jkt.is_some(),
    ))
}

/// RFC 6749 §4.1.2: a code used twice is refused, and what its first exchange issued
/// is revoked: the refresh-token family it started. Its access and ID tokens are
/// signed JWTs that resource servers check offline; they cannot be recalled and
/// simply expire.
fn replayed_code(state: &AppState, code_hash: &str) -> OAuthError {
    match state.store.revoke_code_grants(code_hash) {
        Ok(family) => tracing::warn!(
            revoked_family = family.as_deref().unwrap_or("none"),
            "an authorization code was presented again; what it issued is revoked"
        ),
        Err(e) => tracing::error!(error = %e, "revoking a replayed code's refresh tokens failed"),
    }
    OAuthError::grant(BAD_CODE)
}

const BAD_REFRESH: &str = "unknown or invalid refresh token";

/// `grant_type=refresh_token` (RFC 6749 §6) with rotation: the presented token is
/// spent and a new one returned; a spent token presented again revokes its family.
async fn refresh(
    state: &AppState,
    client: &ClientConfig,
    form: &Form,
    from: Requester,
    proof: Option<Proof>,
) -> Answer {
    let presented = form.require("refresh_token")?;
    let old_hash = util::sha256_b64(presented);
    let lookup = old_hash.clone();
    let record = state
        .blocking(move |state| Ok(state.store.refresh_token(&lookup)?))
        .await
        .map_err(|e| OAuthError::internal(&e))?
        .ok_or_else(|| OAuthError::grant(BAD_REFRESH))?;
    let now = state.now();
    // The leeway of the client the token belongs to, not of whoever presents it.
    let owner = state.config.client(&record.client_id);
    let leeway = owner.map_or(0, |c| {
        i64::try_from(c.refresh_token_leeway_secs).unwrap_or(i64::MAX)
    });
    if record
        .spent_at
        .is_some_and(|at| now.saturating_sub(at) >= leeway)
    {
        return Err(reused(state, &record).await);
    }
    if now >= record.expires_at || now >= record.family_expires_at {
        return Err(OAuthError::grant(BAD_REFRESH));
    }
    if record.client_id != client.client_id || !client.issues_refresh_tokens() {
        return Err(OAuthError::grant(BAD_REFRESH));
    }
    let grant: FamilyGrant =
        grants::from_json(&record.data).map_err(|e| OAuthError::internal(&e))?;
    // RFC 9449 §5: a bound family refreshes only with a proof by its key.
    if !same_key(grant.jkt.as_deref(), proof.as_ref()) {
        return Err(OAuthError::grant(
            "the refresh token is bound to a DPoP key: send a proof by that key",
        ));
    }
    let scopes = narrowed_scopes(&grant, form.get("scope"))?;
    claim_proof(state, proof.as_ref(), now)?;
    let user_id = record.user_id.clone();
    let user = state
        .blocking(move |state| Ok(state.store.user_by_id(&user_id)?))
        .await
        .map_err(|e| OAuthError::internal(&e))?
        .ok_or_else(|| OAuthError::grant(BAD_REFRESH))?;

    let custom = if state.rules.is_empty() {
        CustomClaims::default()
    } else {
        let hostname = state.issuer_url.host_str().unwrap_or_default();
        let input = LoginInput::refresh(
            &state.config,
            hostname,
            &client.client_id,
            &scopes,
            &record.sid,
            &user,
            &from,
            proof.as_ref().map(|p| p.jkt.as_str()),
        );
        match state.rules.run(input).await {
            Outcome::Continue(custom) => custom,
            // The token stays unspent: a denial is not a replay.
            Outcome::Deny(message) => return Err(OAuthError::grant(message)),
            Outcome::Failed { .. } => {
                return Err(OAuthError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    rules::FAILURE_DESCRIPTION,
                ))
            }
        }
    };

    let client_id = client.client_id.clone();
    let rotated = state
        .blocking(move |state| {
            let Some(client) = state.config.client(&client_id) else {
                return Ok(Err(OAuthError::client("unknown client")));
            };
            let now = state.now();
            let offline = scopes.iter().any(|s| s == OFFLINE_ACCESS);
            let granted =
                tokens::grant_scopes(&scopes, grant.audience.as_deref(), &user, true, offline);
            let issued = tokens::mint_grant(
                state,
                &Grant {
                    client_id: &client_id,
                    audience: grant.audience.as_deref(),
                    scopes: &granted,
                    access_token: true,
                    id_token: granted.iter().any(|s| s == "openid"),
                    // OIDC Core §12.2: a refreshed ID token should carry no nonce.
                    nonce: None,
                    sid: &record.sid,
                    auth_time: grant.auth_time,
                    jkt: proof.as_ref().map(|p| p.jkt.as_str()),
                },
                &user,
                &custom,
                now,
            )?;
            let (value, row) = grants::new_refresh_token(client, now, record.family_expires_at);
            let rotation = state.store.rotate_refresh_token(&old_hash, &row, leeway)?;
            Ok(Ok((
                rotation,
                issued,
                value,
                record,
                user.user_id,
                proof.is_some(),
            )))
        })
        .await
        .map_err(|e| OAuthError::internal(&e))??;
    let (rotation, issued, value, record, sub, dpop) = rotated;
    match rotation {
        Rotation::Rotated => {
            tracing::info!(client_id = %record.client_id, sub = %sub, "refresh token rotated");
            Ok(token_response(issued, Some(value), dpop))
        }
        Rotation::Reused => {
            log_reuse(&record);
            Err(OAuthError::grant(BAD_REFRESH))
        }
        Rotation::Gone => Err(OAuthError::grant(BAD_REFRESH)),
    }
}

/// The scopes of a refresh: the family's, or the narrower `scope` asked for (RFC 6749
/// §6: "MUST NOT include any scope not originally granted").
fn narrowed_scopes(grant: &FamilyGrant, asked: Option<&str>) -> Answer<Vec<String>> {
    let Some(asked) = asked else {
        return Ok(grant.scopes.clone());
    };
    let mut scopes: Vec<String> = Vec::new();
    for s in asked.split(' ').filter(|s| !s.is_empty()) {
        if !grant.scopes.iter().any(|g| g == s) {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "the scope asked for exceeds the scope originally granted",
            ));
        }
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    Ok(scopes)
}

/// A spent refresh token came back: someone holds a copy (RFC 9700 §4.14.2). The
/// whole family descended from that login is revoked, the newest token included.
async fn reused(state: &AppState, record: &RefreshRecord) -> OAuthError {
    let family = record.family.clone();
    if let Err(e) = state
        .blocking(move |state| Ok(state.store.revoke_family(&family)?))
        .await
    {
        return OAuthError::internal(&e);
    }
    log_reuse(record);
    OAuthError::grant(BAD_REFRESH)
}

fn log_reuse(record: &RefreshRecord) {
    tracing::warn!(
        client_id = %record.client_id,
        sub = %record.user_id,
        family = %record.family,
        "a spent refresh token was presented again; its family is revoked"
    );
}

/// `POST /oauth/revoke` (RFC 7009 §2.1): revokes a refresh token's whole family.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match revoke_answer(&state, &headers, body).await {
        // RFC 7009 §2.2: 200 and no content to speak of, whether or not the token was known.
        Ok(()) => no_store(StatusCode::OK, ().into_response()),
        Err(e) => e.into_response(),
    }
}

async fn revoke_answer(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer<()> {
    let form = read_form(headers, body)?;
    let client = identify(state, headers, &form)?;
    let token = form.require("token")?;
    let hash = util::sha256_b64(token);
    let record = state
        .blocking(move |state| Ok(state.store.refresh_token(&hash)?))
        .await
        .map_err(|e| OAuthError::internal(&e))?;
    let Some(record) = record else {
        // RFC 7009 §2.2.1: tokens this provider cannot revoke are said so; unknown ones
        // (already revoked, expired, made up) are answered like a success.
        if token.split('.').count() == 3 {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_token_type",
                "access and ID tokens are JWTs and cannot be revoked; they expire",
            ));
        }
        return Ok(());
    };
    // RFC 7009 §2.1: only the client the token was issued to may revoke it.
    if record.client_id != client.client_id {
        return Err(OAuthError::grant("the token was issued to another client"));
    }
    let family = record.family.clone();
    state
        .blocking(move |state| Ok(state.store.revoke_family(&family)?))
        .await
        .map_err(|e| OAuthError::internal(&e))?;
    tracing::info!(client_id = %record.client_id, sub = %record.user_id, "refresh token revoked");
    Ok(())
}

/// Any method but `POST` (and CORS preflights) on the token and revocation endpoints:
/// RFC 6749 §3.2 requires POST.
pub async fn method_not_allowed() -> Response {
    let mut res = OAuthError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "use POST with an application/x-www-form-urlencoded body",
    )
    .into_response();
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_request_prints_codes_verifiers_and_refresh_tokens_redacted() {
        // Codes, PKCE verifiers, refresh tokens and client secrets are never logged.
        let form = Form(
            [
                ("grant_type", "authorization_code"),
                ("client_id", "hashgate-spa"),
                ("code", "code-secret-value"),
                ("code_verifier", "verifier-secret-value"),
                ("refresh_token", "refresh-secret-value"),
                ("client_secret", "client-secret-value"),
                ("token", "revoked-secret-value"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .to_vec(),
        );
        let printed = format!("{form:?}");
        assert!(!printed.contains("secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
        assert!(printed.contains("hashgate-spa"), "{printed}");
    }

    #[test]
    fn verifiers_follow_rfc_7636_section_4_1() {
        assert!(verifier_shaped(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(verifier_shaped(&"a.~_-".repeat(26)[..128]));
        assert!(!verifier_shaped(&"a".repeat(42)));
        assert!(!verifier_shaped(&"a".repeat(129)));
        assert!(!verifier_shaped(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn a_refresh_may_narrow_the_scope_but_never_widen_it() {
        let grant = FamilyGrant {
            scopes: vec![
                "openid".into(),
                "offline_access".into(),
                "read:messages".into(),
            ],
            audience: None,
            auth_time: 0,
            jkt: None,
        };
        assert_eq!(narrowed_scopes(&grant, None).unwrap(), grant.scopes);
        assert_eq!(
            narrowed_scopes(&grant, Some("read:messages openid read:messages")).unwrap(),
            vec!["read:messages".to_owned(), "openid".to_owned()]
        );
        let wider = narrowed_scopes(&grant, Some("openid write:messages")).unwrap_err();
        assert_eq!(wider.error, "invalid_scope");
    }
}
