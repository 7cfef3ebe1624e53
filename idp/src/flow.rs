//! The interactive part of `/authorize`: decide between answering at once (a live
//! session), the login page and the consent page; keep the pending request
//! server-side under a random id; finish by minting tokens.

use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use argon2::Argon2;

use crate::pages::{self, ConsentItem, ConsentView, LoginView, Page};
use crate::request::{self, AuthRequest};
use crate::rules::{self, LoginInput, Outcome, Requester};
use crate::state::AppState;
use crate::store::{SessionRecord, UserRecord};
use crate::tokens;
use crate::util;
use crate::web::{self, ClientIp, Current};

/// How long a pending login may take.
const TRANSACTION_TTL: i64 = 30 * 60;

/// A pending authorization request, stored server-side; the browser only holds
/// its id (in the URL and the form) and the CSRF cookie it is bound to.
#[derive(Debug, Serialize, Deserialize)]
pub struct Transaction {
    /// The validated request.
    pub request: AuthRequest,
    /// Equals the browser's CSRF cookie and the forms' hidden field.
    pub csrf: String,
    /// Set once the user has logged in (waiting for consent).
    pub user_id: Option<String>,
    /// Client IP when the request arrived (for rules).
    pub ip: String,
    /// User agent when the request arrived (for rules).
    pub user_agent: String,
}

fn load_tx(state: &AppState, id: &str) -> Result<Option<Transaction>, crate::IdpError> {
    if !util::is_token_shaped(id) {
        return Ok(None);
    }
    state
        .store
        .transaction(id, util::now())?
        .map(|s| serde_json::from_str(&s).map_err(|e| crate::IdpError::Corrupt(e.to_string())))
        .transpose()
}

fn save_tx(state: &AppState, id: &str, tx: &Transaction) -> Result<(), crate::IdpError> {
    let data = serde_json::to_string(tx).map_err(|e| crate::IdpError::Corrupt(e.to_string()))?;
    let now = util::now();
    state
        .store
        .put_transaction(id, &data, now + TRANSACTION_TTL, now)
}

fn expired_page(state: &AppState) -> Response {
    web::error_page(
        state,
        StatusCode::BAD_REQUEST,
        "This login has expired",
        "This login link has expired or was already used. Go back to the application and log in again.",
    )
}

fn forbidden_page(state: &AppState) -> Response {
    web::error_page(
        state,
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form was not sent from this sign-in page, or its security token is missing or stale \
         (are cookies enabled?). Go back to the application and log in again.",
    )
}

/// Whether the user must (re)consent before tokens are issued.
fn needs_consent(
    state: &AppState,
    req: &AuthRequest,
    user: &UserRecord,
) -> Result<bool, crate::IdpError> {
    if state
        .config
        .client(&req.client_id)
        .is_some_and(|c| c.skip_consent)
    {
        return Ok(false);
    }
    let granted = tokens::granted_scopes(req, user);
    let stored = state.store.consent(
        &user.user_id,
        &req.client_id,
        req.audience.as_deref().unwrap_or(""),
    )?;
    Ok(stored.is_none_or(|stored| granted.iter().any(|s| !stored.contains(s))))
}

fn too_old(req: &AuthRequest, session: &SessionRecord) -> bool {
    req.max_age.is_some_and(|m| {
        util::now().saturating_sub(session.auth_time) >= i64::try_from(m).unwrap_or(i64::MAX)
    })
}

fn hint_mismatch(req: &AuthRequest, user: &UserRecord) -> bool {
    req.login_hint.as_deref().is_some_and(|h| {
        !h.eq_ignore_ascii_case(&user.username) && !h.eq_ignore_ascii_case(&user.profile.email)
    })
}

/// Runs the rules, mints tokens and answers the app. The single place where a
/// successful authorization (interactive or `prompt=none`) ends.
pub async fn complete(
    state: &AppState,
    req: &AuthRequest,
    user: &UserRecord,
    session: &SessionRecord,
    from: &Requester,
    post: bool,
) -> Response {
    let custom = if state.rules.is_empty() {
        rules::CustomClaims::default()
    } else {
        let input = LoginInput::new(state, req, user, session, from);
        match state.rules.run(input).await {
            Outcome::Continue(custom) => custom,
            Outcome::Deny(message) => {
                return web::deliver_error(state, &req.reply, "unauthorized", &message, post)
            }
            // Logged with the rule's file name by the rules module.
            Outcome::Failed { .. } => {
                return web::deliver_error(
                    state,
                    &req.reply,
                    "server_error",
                    rules::FAILURE_DESCRIPTION,
                    post,
                )
            }
        }
    };
    let issued = match tokens::mint(state, req, user, session, &custom, util::now()) {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, "token minting failed");
            return web::deliver_error(
                state,
                &req.reply,
                "server_error",
                "the tokens could not be issued",
                post,
            );
        }
    };
    tracing::info!(client_id = %req.client_id, sub = %user.user_id, "tokens issued");
    let mut m = Map::new();
    if let Some(at) = issued.access_token {
        m.insert("access_token".into(), json!(at));
        m.insert("token_type".into(), json!("Bearer"));
    }
    if let Some(id) = issued.id_token {
        m.insert("id_token".into(), json!(id));
    }
    m.insert("expires_in".into(), json!(issued.expires_in));
    m.insert("scope".into(), json!(issued.scope));
    web::deliver(state, &req.reply, m, post)
}

/// `GET /authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
) -> Response {
    let req = match request::parse(&state, query.as_deref()) {
        Ok(r) => r,
        Err(rejection) => return web::reject(&state, rejection, false),
    };
    let current = match web::current_session(&state, &headers) {
        Ok(c) => c,
        Err(e) => return web::internal_error(&state, &e),
    };
    let fail = |error: &str, description: &str| {
        web::deliver_error(&state, &req.reply, error, description, false)
    };
    let user_agent: String = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(512)
        .collect();
    let from = Requester {
        ip: ip.clone(),
        user_agent: user_agent.clone(),
    };

    if req.prompt_none {
        let Some(Current { session, user, .. }) = current else {
            return fail("login_required", "the user is not logged in");
        };
        if too_old(&req, &session) {
            return fail("login_required", "the login is older than max_age");
        }
        if hint_mismatch(&req, &user) {
            return fail("interaction_required", "a different user is logged in");
        }
        return match needs_consent(&state, &req, &user) {
            Ok(true) => fail(
                "consent_required",
                "the user has not consented to this application",
            ),
            Ok(false) => complete(&state, &req, &user, &session, &from, false).await,
            Err(e) => {
                tracing::error!(error = %e, "consent lookup failed");
                fail("server_error", "internal error")
            }
        };
    }

    let (next, user_id) = match &current {
        Some(c)
            if !req.prompt_login && !too_old(&req, &c.session) && !hint_mismatch(&req, &c.user) =>
        {
            match needs_consent(&state, &req, &c.user) {
                Ok(false) if !req.prompt_consent => {
                    return complete(&state, &req, &c.user, &c.session, &from, false).await
                }
                Ok(_) => ("consent", Some(c.user.user_id.clone())),
                Err(e) => return web::internal_error(&state, &e),
            }
        }
        _ => ("login", None),
    };

    let csrf = web::cookie(&headers, &state.csrf_cookie)
        .filter(|c| util::is_token_shaped(c))
        .unwrap_or_else(util::random_token);
    let tx = Transaction {
        request: req,
        csrf: csrf.clone(),
        user_id,
        ip,
        user_agent,
    };
    let id = util::random_token();
    if let Err(e) = save_tx(&state, &id, &tx) {
        return web::internal_error(&state, &e);
    }
    let mut res = web::redirect(&state.path(&format!("{next}?tx={id}")), false);
    web::add_cookie(
        &mut res,
        &web::set_cookie(&state, &state.csrf_cookie, &csrf, None),
    );
    res
}

/// Query of the login and consent pages.
#[derive(Deserialize)]
pub struct TxQuery {
    #[serde(default)]
    tx: String,
}

fn origin_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

fn login_page_for(
    state: &AppState,
    id: &str,
    tx: &Transaction,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let client_name = state
        .config
        .client(&tx.request.client_id)
        .map_or(tx.request.client_id.as_str(), |c| c.name.as_str());
    let app_origin = origin_of(&tx.request.reply.redirect_uri);
    let html = pages::login(&LoginView {
        css: &state.path("assets/idp.css"),
        action: &state.path("login"),
        client_name,
        app_origin: &app_origin,
        tx: id,
        csrf: &tx.csrf,
        username,
        error,
    });
    // After the POST the browser follows a redirect to the app (or to the consent
    // page); Chrome applies form-action to that redirect too.
    Page::new(status, html, &[&app_origin]).into_response()
}

/// `GET /login?tx=`.
pub async fn login_page(State(state): State<AppState>, Query(q): Query<TxQuery>) -> Response {
    match load_tx(&state, &q.tx) {
        Ok(Some(tx)) => {
            let hint = tx.request.login_hint.clone().unwrap_or_default();
            login_page_for(&state, &q.tx, &tx, &hint, None, StatusCode::OK)
        }
        Ok(None) => expired_page(&state),
        Err(e) => web::internal_error(&state, &e),
    }
}

/// The login form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    tx: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// Checks that a form belongs to a live transaction of this browser.
fn check_form(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    csrf: &str,
) -> Result<Transaction, Box<Response>> {
    if !web::same_origin_post(state, headers) {
        tracing::warn!("cross-site form post refused");
        return Err(Box::new(forbidden_page(state)));
    }
    let tx = match load_tx(state, id) {
        Ok(Some(tx)) => tx,
        Ok(None) => return Err(Box::new(expired_page(state))),
        Err(e) => return Err(Box::new(web::internal_error(state, &e))),
    };
    let cookie = web::cookie(headers, &state.csrf_cookie).unwrap_or_default();
    if !util::ct_eq(csrf, &tx.csrf) || !util::ct_eq(&cookie, &tx.csrf) {
        tracing::warn!("form post with a missing or wrong csrf token refused");
        return Err(Box::new(forbidden_page(state)));
    }
    Ok(tx)
}

/// A password hash nobody knows, verified for unknown usernames so that they take
/// as long as wrong passwords.
static DUMMY_HASH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

fn verify_password(hash: Option<String>, password: String) -> bool {
    let dummy = DUMMY_HASH.get_or_init(|| crate::state::hash_password(&util::random_token()).ok());
    let (hash, known) = match hash {
        Some(h) => (h, true),
        None => (dummy.clone().unwrap_or_default(), false),
    };
    let ok = PasswordHash::new(&hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    ok && known
}

/// `POST /login`.
pub async fn login_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden_page(&state);
    };
    let mut tx = match check_form(&state, &headers, &form.tx, &form.csrf) {
        Ok(tx) => tx,
        Err(res) => return *res,
    };
    let username = form.username.trim().to_owned();
    let user_key = format!("user:{}", username.to_lowercase());
    let ip_key = format!("ip:{ip}");
    if state.throttle.is_blocked(&[&user_key, &ip_key]) {
        tracing::warn!("login refused: too many failed attempts");
        return login_page_for(
            &state,
            &form.tx,
            &tx,
            &username,
            Some("Too many failed login attempts. Wait a few minutes, then try again."),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let user = match state.store.user_by_username(&username) {
        Ok(u) => u,
        Err(e) => return web::internal_error(&state, &e),
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password = form.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(hash, password))
        .await
        .unwrap_or(false);
    let Some(user) = user.filter(|_| ok) else {
        state.throttle.record_failure(&[&user_key, &ip_key]);
        tracing::info!("failed login");
        return login_page_for(
            &state,
            &form.tx,
            &tx,
            &username,
            Some("Wrong username or password."),
            StatusCode::UNAUTHORIZED,
        );
    };
    state.throttle.clear(&user_key);

    let now = util::now();
    // A fresh session id on every login (no session fixation); the old one ends.
    if let Ok(Some(old)) = web::current_session(&state, &headers) {
        let _ = state.store.delete_session(&old.token_hash);
    }
    let token = util::random_token();
    let session = SessionRecord {
        sid: util::random_token(),
        user_id: user.user_id.clone(),
        auth_time: now,
        expires_at: now
            .saturating_add(i64::try_from(state.config.session.lifetime_secs).unwrap_or(i64::MAX)),
    };
    if let Err(e) = state
        .store
        .insert_session(&util::sha256_b64(&token), &session)
        .and_then(|()| state.store.record_login(&user.user_id, now))
    {
        return web::internal_error(&state, &e);
    }
    tracing::info!(sub = %user.user_id, "user logged in");
    let cookie = web::set_cookie(
        &state,
        &state.session_cookie,
        &token,
        Some(state.config.session.lifetime_secs),
    );

    let consent = match needs_consent(&state, &tx.request, &user) {
        Ok(c) => c || tx.request.prompt_consent,
        Err(e) => return web::internal_error(&state, &e),
    };
    let mut res = if consent {
        tx.user_id = Some(user.user_id.clone());
        if let Err(e) = save_tx(&state, &form.tx, &tx) {
            return web::internal_error(&state, &e);
        }
        web::redirect(&state.path(&format!("consent?tx={}", form.tx)), true)
    } else {
        let _ = state.store.delete_transaction(&form.tx);
        let from = Requester {
            ip: tx.ip.clone(),
            user_agent: tx.user_agent.clone(),
        };
        complete(&state, &tx.request, &user, &session, &from, true).await
    };
    web::add_cookie(&mut res, &cookie);
    res
}

/// Describes the permissions asked for, in words.
fn consent_items(state: &AppState, req: &AuthRequest, user: &UserRecord) -> Vec<ConsentItem> {
    let api = req.audience.as_deref().and_then(|a| state.config.api(a));
    tokens::granted_scopes(req, user)
        .iter()
        .map(|s| {
            let (description, detail) = match s.as_str() {
                "openid" => (
                    "Sign you in with your account".to_owned(),
                    "openid".to_owned(),
                ),
                "profile" => (
                    "See your name, nickname and picture".to_owned(),
                    "profile".to_owned(),
                ),
                "email" => ("See your email address".to_owned(), "email".to_owned()),
                other => {
                    let def = api.and_then(|a| a.scopes.iter().find(|d| d.value == other));
                    (
                        def.map_or_else(|| other.to_owned(), |d| d.description.clone()),
                        format!("{} \u{b7} {other}", api.map_or("API", |a| a.name.as_str())),
                    )
                }
            };
            ConsentItem {
                description,
                detail,
            }
        })
        .collect()
}

/// The session of the user the transaction belongs to, or a response that sends
/// the browser back to the login page.
fn tx_user_session(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    tx: &Transaction,
    post: bool,
) -> Result<Current, Box<Response>> {
    match web::current_session(state, headers) {
        Ok(Some(c)) if tx.user_id.as_deref() == Some(c.user.user_id.as_str()) => Ok(c),
        Ok(_) => Err(Box::new(web::redirect(
            &state.path(&format!("login?tx={id}")),
            post,
        ))),
        Err(e) => Err(Box::new(web::internal_error(state, &e))),
    }
}

/// `GET /consent?tx=`.
pub async fn consent_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TxQuery>,
) -> Response {
    let tx = match load_tx(&state, &q.tx) {
        Ok(Some(tx)) => tx,
        Ok(None) => return expired_page(&state),
        Err(e) => return web::internal_error(&state, &e),
    };
    let current = match tx_user_session(&state, &headers, &q.tx, &tx, false) {
        Ok(c) => c,
        Err(res) => return *res,
    };
    let client_name = state
        .config
        .client(&tx.request.client_id)
        .map_or(tx.request.client_id.as_str(), |c| c.name.as_str());
    let app_origin = origin_of(&tx.request.reply.redirect_uri);
    let items = consent_items(&state, &tx.request, &current.user);
    let user_label = format!(
        "{} ({})",
        current.user.profile.name, current.user.profile.email
    );
    let html = pages::consent(&ConsentView {
        css: &state.path("assets/idp.css"),
        action: &state.path("consent"),
        client_name,
        user_label: &user_label,
        app_origin: &app_origin,
        tx: &q.tx,
        csrf: &tx.csrf,
        items: &items,
    });
    Page::new(StatusCode::OK, html, &[&app_origin]).into_response()
}

/// The consent form.
#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    tx: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

/// `POST /consent`.
pub async fn consent_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden_page(&state);
    };
    let tx = match check_form(&state, &headers, &form.tx, &form.csrf) {
        Ok(tx) => tx,
        Err(res) => return *res,
    };
    let current = match tx_user_session(&state, &headers, &form.tx, &tx, true) {
        Ok(c) => c,
        Err(res) => return *res,
    };
    let req = &tx.request;
    match form.decision.as_str() {
        "allow" => {
            let scopes = tokens::granted_scopes(req, &current.user);
            if let Err(e) = state.store.grant_consent(
                &current.user.user_id,
                &req.client_id,
                req.audience.as_deref().unwrap_or(""),
                &scopes,
                util::now(),
            ) {
                return web::internal_error(&state, &e);
            }
            let _ = state.store.delete_transaction(&form.tx);
            let from = Requester {
                ip: tx.ip.clone(),
                user_agent: tx.user_agent.clone(),
            };
            complete(&state, req, &current.user, &current.session, &from, true).await
        }
        "deny" => {
            let _ = state.store.delete_transaction(&form.tx);
            web::deliver_error(
                &state,
                &req.reply,
                "access_denied",
                "the user denied access",
                true,
            )
        }
        _ => web::error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "Choose Allow or Deny.",
        ),
    }
}
