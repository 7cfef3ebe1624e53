//! The interactive part of `/authorize`: decide between answering at once (a live
//! session), the login page and the consent page; keep the pending request
//! server-side under a random id; finish by minting tokens (implicit) or issuing an
//! authorization code (code requests).

use axum::extract::rejection::FormRejection;
use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use crate::error::{IdpError, Result};
use crate::grants;
use crate::pages::{self, ConsentItem, ConsentView, LoginView, Page};
use crate::request::{self, AuthRequest};
use crate::rules::{self, LoginInput, Outcome, Requester};
use crate::state::AppState;
use crate::store::{PendingCaps, PendingNetworks, SessionRecord, UserRecord};
use crate::tokens;
use crate::util;
use crate::web::{self, ClientIp, Current};

/// How long a pending login may take.
const TRANSACTION_TTL: i64 = 30 * 60;

/// A pending authorization request, stored server-side; the browser only holds
/// its id (in the URL and the form) and the CSRF cookie it is bound to.
#[derive(Serialize, Deserialize)]
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

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("request", &self.request)
            .field("csrf", &util::REDACTED)
            .field("user_id", &self.user_id)
            .field("ip", &self.ip)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl Transaction {
    /// Who sent the request, as rules see it.
    fn requester(&self) -> Requester {
        Requester {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

async fn load_tx(state: &AppState, id: &str) -> Result<Option<Transaction>> {
    if !util::is_token_shaped(id) {
        return Ok(None);
    }
    let id = id.to_owned();
    let data = state
        .blocking(move |state| Ok(state.store.transaction(&id, util::now())?))
        .await?;
    data.map(|s| serde_json::from_str(&s).map_err(|e| IdpError::Corrupt(e.to_string())))
        .transpose()
}

fn encode_tx(tx: &Transaction) -> Result<String> {
    serde_json::to_string(tx).map_err(|e| IdpError::Corrupt(e.to_string()))
}

/// Stores a new pending login under a fresh id, within the `[transactions]` caps of
/// the networks it comes from (which push out their own oldest when full).
async fn insert_tx(state: &AppState, tx: &Transaction) -> Result<String> {
    let data = encode_tx(tx)?;
    // The caps count per nested network, like the login throttle.
    let from = crate::throttle::networks(&tx.ip);
    let id = util::random_token();
    let key = id.clone();
    let limits = &state.config.transactions;
    let caps = PendingCaps {
        per_ip: limits.max_pending_per_ip,
        per_site: limits.max_pending_per_site,
        per_allocation: limits.max_pending_per_allocation,
        total: limits.max_pending_total,
    };
    let evicted = state
        .blocking(move |state| {
            let now = util::now();
            let networks = PendingNetworks {
                block: &from.block,
                site: &from.site,
                allocation: &from.allocation,
            };
            Ok(state.store.insert_transaction(
                &key,
                &data,
                networks,
                now + TRANSACTION_TTL,
                now,
                caps,
            )?)
        })
        .await?;
    if evicted > 0 {
        tracing::warn!(
            evicted,
            network = %crate::throttle::networks(&tx.ip).site,
            "pending-login cap reached: oldest pending logins pushed out"
        );
    }
    Ok(id)
}

async fn update_tx(state: &AppState, id: &str, tx: &Transaction) -> Result<()> {
    let data = encode_tx(tx)?;
    let id = id.to_owned();
    state
        .blocking(move |state| Ok(state.store.update_transaction(&id, &data)?))
        .await
}

/// Takes the pending login out of the store before it is finished: each is finished
/// once, so a form posted twice (or two posts racing) issues once; the loser gets
/// [`IdpError::LoginExpired`].
async fn take_tx(state: &AppState, id: &str) -> Result<()> {
    let id = id.to_owned();
    let taken = state
        .blocking(move |state| Ok(state.store.delete_transaction(&id)?))
        .await?;
    if taken {
        Ok(())
    } else {
        Err(IdpError::LoginExpired)
    }
}

/// Whether the user must (re)consent before tokens are issued.
async fn needs_consent(state: &AppState, req: &AuthRequest, user: &UserRecord) -> Result<bool> {
    if state
        .config
        .client(&req.client_id)
        .is_some_and(|c| c.skip_consent)
    {
        return Ok(false);
    }
    let granted = tokens::granted_scopes(req, user);
    let key = (
        user.user_id.clone(),
        req.client_id.clone(),
        req.audience.clone().unwrap_or_default(),
    );
    let stored = state
        .blocking(move |state| Ok(state.store.consent(&key.0, &key.1, &key.2)?))
        .await?;
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

/// Runs the rules, mints tokens (or issues a code) and answers the app. The single
/// place where a successful authorization (interactive or `prompt=none`) ends.
/// Failures here are answers to the app (`server_error`), never error pages.
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
        // Read again: the record may predate this login's count.
        let user_id = user.user_id.clone();
        let fresh = state
            .blocking(move |state| Ok(state.store.user_by_id(&user_id)?))
            .await;
        let user = match fresh {
            Ok(Some(fresh)) => fresh,
            _ => user.clone(),
        };
        let hostname = state.issuer_url.host_str().unwrap_or_default();
        let input = LoginInput::new(&state.config, hostname, req, &user, session, from);
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
    if req.code {
        return match grants::issue_code(state, req, user, session, &custom).await {
            Ok(code) => {
                tracing::info!(client_id = %req.client_id, sub = %user.user_id, "authorization code issued");
                let mut m = Map::new();
                m.insert("code".into(), json!(code));
                web::deliver(state, &req.reply, m, post)
            }
            Err(e) => {
                tracing::error!(error = %e, "storing an authorization code failed");
                web::deliver_error(
                    state,
                    &req.reply,
                    "server_error",
                    "the authorization code could not be issued",
                    post,
                )
            }
        };
    }
    let work = (req.clone(), user.clone(), session.clone());
    let minted = state
        .blocking(move |state| {
            let (req, user, session) = work;
            tokens::mint(state, &req, &user, &session, &custom, util::now())
        })
        .await;
    let issued = match minted {
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
    jar: CookieJar,
    ClientIp(ip): ClientIp,
) -> Result<Response> {
    let req = match request::parse(&state.config, query.as_deref()) {
        Ok(r) => r,
        Err(rejection) => return web::reject(&state, rejection),
    };
    let current = web::current_session(&state, &jar).await?;
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
            return Ok(fail("login_required", "the user is not logged in"));
        };
        if too_old(&req, &session) {
            return Ok(fail("login_required", "the login is older than max_age"));
        }
        if hint_mismatch(&req, &user) {
            return Ok(fail(
                "interaction_required",
                "a different user is logged in",
            ));
        }
        return Ok(match needs_consent(&state, &req, &user).await {
            Ok(true) => fail(
                "consent_required",
                "the user has not consented to this application",
            ),
            Ok(false) => complete(&state, &req, &user, &session, &from, false).await,
            Err(e) => {
                tracing::error!(error = %e, "consent lookup failed");
                fail("server_error", "internal error")
            }
        });
    }

    let (next, user_id) = match &current {
        Some(c)
            if !req.prompt_login && !too_old(&req, &c.session) && !hint_mismatch(&req, &c.user) =>
        {
            if !needs_consent(&state, &req, &c.user).await? && !req.prompt_consent {
                return Ok(complete(&state, &req, &c.user, &c.session, &from, false).await);
            }
            ("consent", Some(c.user.user_id.clone()))
        }
        _ => ("login", None),
    };

    let csrf = web::cookie_token(&jar, &state.csrf_cookie).unwrap_or_else(util::random_token);
    let tx = Transaction {
        request: req,
        csrf: csrf.clone(),
        user_id,
        ip,
        user_agent,
    };
    let id = insert_tx(&state, &tx).await?;
    let jar = jar.add(web::cookie(&state, &state.csrf_cookie, csrf, None));
    let res = web::redirect(&state.path(&format!("{next}?tx={id}")), false);
    Ok((jar, res).into_response())
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

fn client_name<'a>(state: &'a AppState, tx: &'a Transaction) -> &'a str {
    state
        .config
        .client(&tx.request.client_id)
        .map_or(tx.request.client_id.as_str(), |c| c.name.as_str())
}

fn login_page_for(
    state: &AppState,
    id: &str,
    tx: &Transaction,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let app_origin = origin_of(&tx.request.reply.redirect_uri);
    let html = pages::login(&LoginView {
        css: &state.path("assets/idp.css"),
        action: &state.path("login"),
        client_name: client_name(state, tx),
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
pub async fn login_page(
    State(state): State<AppState>,
    Query(q): Query<TxQuery>,
) -> Result<Response> {
    let tx = load_tx(&state, &q.tx)
        .await?
        .ok_or(IdpError::LoginExpired)?;
    let hint = tx.request.login_hint.clone().unwrap_or_default();
    Ok(login_page_for(
        &state,
        &q.tx,
        &tx,
        &hint,
        None,
        StatusCode::OK,
    ))
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

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("tx", &self.tx)
            .field("csrf", &util::REDACTED)
            .field("username", &self.username)
            .field("password", &util::REDACTED)
            .finish()
    }
}

/// The live transaction a form belongs to, if the form came from this browser's
/// page of this provider.
async fn check_form(
    state: &AppState,
    headers: &HeaderMap,
    jar: &CookieJar,
    id: &str,
    csrf: &str,
) -> Result<Transaction> {
    if !web::same_origin_post(state, headers) {
        tracing::warn!("cross-site form post refused");
        return Err(IdpError::FormRefused);
    }
    let tx = load_tx(state, id).await?.ok_or(IdpError::LoginExpired)?;
    let cookie = jar
        .get(&state.csrf_cookie)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if !util::ct_eq(csrf, &tx.csrf) || !util::ct_eq(&cookie, &tx.csrf) {
        tracing::warn!("form post with a missing or wrong csrf token refused");
        return Err(IdpError::FormRefused);
    }
    Ok(tx)
}

/// `POST /login`.
pub async fn login_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    ClientIp(ip): ClientIp,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response> {
    let Ok(Form(form)) = form else {
        return Err(IdpError::FormRefused);
    };
    let mut tx = check_form(&state, &headers, &jar, &form.tx, &form.csrf).await?;
    let username = form.username.trim().to_owned();
    // Counted before the password is checked, so parallel posts cannot all slip in.
    let Some(attempt) = state.throttle.begin(&username, &ip) else {
        tracing::warn!("login refused: too many failed attempts");
        return Ok(login_page_for(
            &state,
            &form.tx,
            &tx,
            &username,
            Some("Too many failed login attempts. Wait a few minutes, then try again."),
            StatusCode::TOO_MANY_REQUESTS,
        ));
    };
    let name = username.clone();
    let user = state
        .blocking(move |state| Ok(state.store.user_by_username(&name)?))
        .await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = state.check_password(hash, form.password).await;
    let Some(user) = user.filter(|_| ok) else {
        // The attempt stays counted.
        tracing::info!("failed login");
        return Ok(login_page_for(
            &state,
            &form.tx,
            &tx,
            &username,
            Some("Wrong username or password."),
            StatusCode::UNAUTHORIZED,
        ));
    };
    state.throttle.succeeded(attempt);
    let consent = needs_consent(&state, &tx.request, &user).await? || tx.request.prompt_consent;
    if !consent {
        // Before anything is issued: of two posts of this form, one goes on.
        take_tx(&state, &form.tx).await?;
    }

    let now = util::now();
    // A fresh session id on every login (no session fixation); the old one ends.
    let old = web::cookie_token(&jar, &state.session_cookie).map(|v| util::sha256_b64(&v));
    let token = util::random_token();
    let session = SessionRecord {
        sid: util::random_token(),
        user_id: user.user_id.clone(),
        auth_time: now,
        expires_at: now
            .saturating_add(i64::try_from(state.config.session.lifetime_secs).unwrap_or(i64::MAX)),
    };
    let work = (util::sha256_b64(&token), session.clone());
    state
        .blocking(move |state| {
            let (token_hash, session) = work;
            state
                .store
                .replace_session(old.as_deref(), &token_hash, &session)?;
            Ok(state.store.record_login(&session.user_id, now)?)
        })
        .await?;
    tracing::info!(sub = %user.user_id, "user logged in");
    let jar = jar.add(web::cookie(
        &state,
        &state.session_cookie,
        token,
        Some(state.config.session.lifetime_secs),
    ));

    let res = if consent {
        tx.user_id = Some(user.user_id.clone());
        update_tx(&state, &form.tx, &tx).await?;
        web::redirect(&state.path(&format!("consent?tx={}", form.tx)), true)
    } else {
        complete(&state, &tx.request, &user, &session, &tx.requester(), true).await
    };
    Ok((jar, res).into_response())
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
                crate::config::OFFLINE_ACCESS => (
                    "Stay signed in to it while you are away".to_owned(),
                    crate::config::OFFLINE_ACCESS.to_owned(),
                ),
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

/// The session of the user the transaction belongs to; `None` when the browser
/// must go back to the login page.
async fn tx_user_session(
    state: &AppState,
    jar: &CookieJar,
    tx: &Transaction,
) -> Result<Option<Current>> {
    Ok(web::current_session(state, jar)
        .await?
        .filter(|c| tx.user_id.as_deref() == Some(c.user.user_id.as_str())))
}

/// `GET /consent?tx=`.
pub async fn consent_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<TxQuery>,
) -> Result<Response> {
    let tx = load_tx(&state, &q.tx)
        .await?
        .ok_or(IdpError::LoginExpired)?;
    let Some(current) = tx_user_session(&state, &jar, &tx).await? else {
        return Ok(web::redirect(
            &state.path(&format!("login?tx={}", q.tx)),
            false,
        ));
    };
    let app_origin = origin_of(&tx.request.reply.redirect_uri);
    let items = consent_items(&state, &tx.request, &current.user);
    let user_label = format!(
        "{} ({})",
        current.user.profile.name, current.user.profile.email
    );
    let html = pages::consent(&ConsentView {
        css: &state.path("assets/idp.css"),
        action: &state.path("consent"),
        client_name: client_name(&state, &tx),
        user_label: &user_label,
        app_origin: &app_origin,
        tx: &q.tx,
        csrf: &tx.csrf,
        items: &items,
    });
    Ok(Page::new(StatusCode::OK, html, &[&app_origin]).into_response())
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

impl std::fmt::Debug for ConsentForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentForm")
            .field("tx", &self.tx)
            .field("csrf", &util::REDACTED)
            .field("decision", &self.decision)
            .finish()
    }
}

/// `POST /consent`.
pub async fn consent_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Result<Response> {
    let Ok(Form(form)) = form else {
        return Err(IdpError::FormRefused);
    };
    let tx = check_form(&state, &headers, &jar, &form.tx, &form.csrf).await?;
    let Some(current) = tx_user_session(&state, &jar, &tx).await? else {
        return Ok(web::redirect(
            &state.path(&format!("login?tx={}", form.tx)),
            true,
        ));
    };
    let req = &tx.request;
    match form.decision.as_str() {
        "allow" => {
            let scopes = tokens::granted_scopes(req, &current.user);
            let key = (
                current.user.user_id.clone(),
                req.client_id.clone(),
                req.audience.clone().unwrap_or_default(),
            );
            state
                .blocking(move |state| {
                    let (user_id, client_id, audience) = key;
                    Ok(state.store.grant_consent(
                        &user_id,
                        &client_id,
                        &audience,
                        &scopes,
                        util::now(),
                    )?)
                })
                .await?;
            take_tx(&state, &form.tx).await?;
            Ok(complete(
                &state,
                req,
                &current.user,
                &current.session,
                &tx.requester(),
                true,
            )
            .await)
        }
        "deny" => {
            take_tx(&state, &form.tx).await?;
            Ok(web::deliver_error(
                &state,
                &req.reply,
                "access_denied",
                "the user denied access",
                true,
            ))
        }
        _ => Err(IdpError::Refused {
            status: StatusCode::BAD_REQUEST,
            heading: "Invalid request",
            message: "Choose Allow or Deny.".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens and passwords are never logged (idp/README.md): Debug redacts them.
    fn assert_redacted(printed: &str) {
        assert!(!printed.contains("secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }

    #[test]
    fn a_pending_login_prints_no_csrf_token() {
        let config = crate::config::Config::demo();
        let query = "client_id=hashgate-spa&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcallback\
                     &response_type=token&audience=https%3A%2F%2Fapi.hashgate.local";
        let tx = Transaction {
            request: request::parse(&config, Some(query)).unwrap(),
            csrf: "csrf-secret-value".into(),
            user_id: None,
            ip: "192.0.2.1".into(),
            user_agent: "test".into(),
        };
        assert_redacted(&format!("{tx:?}"));
    }

    #[test]
    fn the_login_form_prints_no_password_or_csrf_token() {
        let login = LoginForm {
            tx: "tx-id".into(),
            csrf: "csrf-secret-value".into(),
            username: "alice".into(),
            password: "password-secret-value".into(),
        };
        let printed = format!("{login:?}");
        assert_redacted(&printed);
        assert!(printed.contains("alice"), "{printed}");
    }

    #[test]
    fn the_consent_form_prints_no_csrf_token() {
        let consent = ConsentForm {
            tx: "tx-id".into(),
            csrf: "csrf-secret-value".into(),
            decision: "allow".into(),
        };
        assert_redacted(&format!("{consent:?}"));
    }
}
