//! `<AuthProvider>`: boots the auth state and handles the authorization response.

use hashgate_protocol::{
    fragment::{looks_like_authorization_response, parse_fragment, AuthorizationResponse},
    return_to::sanitize_return_to,
    split_query, CacheLocation,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use crate::browser;
use crate::context::AuthContext;
use crate::error::AuthError;
use crate::session::Session;
use crate::setup::Setup;
use crate::silent::silent_authorize;
use crate::state::{AuthState, TabMessage, CHANNEL};
use crate::storage;
use crate::token::{self, Pending};

/// Provides the [`AuthContext`] to `children` and carries the page's `data-auth-state`.
///
/// Must sit inside the `<Router>`. On start it removes any authorization response from the address
/// bar, loads `/auth_config.json` and the provider's discovery document, then either completes a
/// login (on the configured `redirectPath`) or restores a stored session.
#[component]
pub fn AuthProvider(
    /// The app, which may call [`crate::use_auth`] anywhere below.
    children: Children,
) -> impl IntoView {
    browser::mark(browser::START_MARK);
    let auth = AuthContext::new();
    provide_context(auth);

    // Before anything else: take the response out of the URL, so tokens never stay in the address
    // bar or in history, and nothing later (router, analytics, Referer) can see them.
    let captured = capture_authorization_response();
    let navigate = use_navigate();
    spawn_local(async move {
        match start(auth, captured).await {
            Ok(Start::SignedIn(session, return_to)) => {
                auth.accept_session(*session);
                if let Some(path) = return_to {
                    // Response captured → validated session: `cargo xtask bench` reads this.
                    browser::measure_callback();
                    navigate(
                        &path,
                        NavigateOptions {
                            replace: true,
                            ..Default::default()
                        },
                    );
                }
            }
            Ok(Start::SignedOut) => auth.state.set(AuthState::Anonymous),
            Err(e) => auth.state.set(AuthState::Error(e)),
        }
    });

    // A logout (or a change of user) in another tab of the app signs this one out too, without a
    // second trip to the provider.
    browser::on_broadcast(CHANNEL, move |message| {
        if let Some(message) = TabMessage::parse(&message) {
            if message == TabMessage::Logout {
                // The tab that logged out deletes the DPoP key; this one drops its copy.
                crate::dpop::forget_loaded_key();
            }
            auth.signed_out_elsewhere(message);
        }
    });
    // With `cacheLocation: memory` a page that is discarded (reload, close) takes its refresh
    // token with it: nothing can ever use it again, so it is revoked on the way out. A page
    // kept in the back-forward cache keeps it, and goes on working when it is restored.
    browser::on_page_discarded(move || {
        let Some(setup) = auth.setup.loaded() else {
            return;
        };
        if setup.config.cache_location != CacheLocation::Memory {
            return;
        }
        for token in auth.held_refresh_tokens() {
            token::revoke_on_unload(&setup, &token);
        }
    });

    view! {
        <div class="app-root" data-auth-state=move || auth.status().as_str()>
            {children()}
        </div>
    }
}

/// An authorization response taken from the address bar, and the path it arrived on.
struct Captured {
    /// The fragment, when it looked like an authorization response.
    fragment: Option<String>,
    /// Authorization-response parameters found in the query string.
    query: Option<String>,
    path: String,
}

fn capture_authorization_response() -> Option<Captured> {
    let location = browser::location().ok()?;
    let fragment = (location.hash.len() > 1 && looks_like_authorization_response(&location.hash))
        .then(|| location.hash.clone());
    let split = split_query(&location.search);
    if fragment.is_none() && split.is_none() {
        return None;
    }
    let mut url = location.pathname.clone();
    match &split {
        Some(split) if !split.rest.is_empty() => {
            url.push('?');
            url.push_str(&split.rest);
        }
        Some(_) => {}
        None => url.push_str(&location.search),
    }
    if fragment.is_none() {
        // An in-page anchor stays; only a response is removed.
        url.push_str(&location.hash);
    }
    // If the address bar cannot be rewritten the response is not used at all.
    browser::replace_url(&url).ok()?;
    browser::mark(browser::CALLBACK_START_MARK);
    Some(Captured {
        fragment,
        query: split.map(|s| s.response),
        path: location.pathname,
    })
}

/// How start-up ended.
enum Start {
    /// Signed in; go to the return-to path if there is one.
    SignedIn(Box<Session>, Option<String>),
    /// Nobody is signed in.
    SignedOut,
}

async fn start(auth: AuthContext, captured: Option<Captured>) -> Result<Start, AuthError> {
    let setup = auth.setup.ready().await?;
    let config = &setup.config;
    if let Some(captured) = captured {
        let on_callback = captured.path == config.redirect_path;
        let response = match (config.response_type.is_code(), captured.query, captured.fragment) {
            // RFC 6749 §4.1.2: the code flow answers in the query; a response in the fragment
            // was not asked for.
            (true, _, Some(_)) => {
                return Err(AuthError::WrongFlow(
                    "it arrived in the URL fragment, but the app is set up for the authorization code flow",
                ))
            }
            (true, Some(query), None) => match parse_fragment(&query)? {
                // Tokens never belong in a query string, whatever the flow.
                AuthorizationResponse::Success(_) => return Err(AuthError::ResponseInQuery),
                response => on_callback.then_some(response),
            },
            // RFC 6749 §4.2.2: the implicit grant answers in the fragment. Tokens or an error in
            // the query come from a misconfigured provider or a crafted link: refused, unused.
            (false, Some(_), _) => return Err(AuthError::ResponseInQuery),
            (false, None, Some(fragment)) if on_callback => Some(parse_fragment(&fragment)?),
            _ => None,
        };
        // A response anywhere but the callback path was not asked for: it is dropped unread.
        if let Some(response) = response {
            let (session, return_to) = complete_login(&setup, response).await?;
            return Ok(Start::SignedIn(Box::new(session), Some(return_to)));
        }
    }
    if let Some(session) = restore_session(auth, &setup).await {
        return Ok(Start::SignedIn(Box::new(session), None));
    }
    // Tokens live in memory by default, so a reload has none: one silent attempt restores the
    // session if the provider still has one. Any failure just means "signed out".
    match silent_authorize(&setup).await {
        Ok(session) => Ok(Start::SignedIn(Box::new(session), None)),
        Err(_) => Ok(Start::SignedOut),
    }
}

/// Checks an authorization response against its transaction (and, in the code flow, redeems
/// the code); returns the session and where to go.
async fn complete_login(
    setup: &Setup,
    response: AuthorizationResponse,
) -> Result<(Session, String), AuthError> {
    let config = &setup.config;
    let now = browser::now_secs();
    // RFC 6749 §10.12: only a response to a login this tab started is believed, and the
    // transaction is used up either way, so the same response cannot be replayed.
    let state = response
        .state()
        .ok_or(AuthError::Incomplete("it has no state"))?;
    let transaction = storage::take_transaction(state.secret(), now)?;
    // The code is redeemed with exactly the redirect_uri its request sent.
    let redirect_uri = match &response {
        AuthorizationResponse::Code(_) => config.redirect_uri(&browser::location()?.origin),
        _ => String::new(),
    };
    let pending = Pending {
        nonce: transaction.nonce,
        verifier: transaction.code_verifier,
        redirect_uri,
    };
    let session =
        token::complete(setup, response, pending, AuthError::ResponseInQuery, now).await?;
    let return_to = sanitize_return_to(&transaction.return_to).unwrap_or_else(|| "/".into());
    Ok((session, return_to))
}

/// A session persisted with `cacheLocation: session | local`, validated again as if new. An
/// expired one is renewed with its refresh token, if it has one (no iframe needed).
async fn restore_session(auth: AuthContext, setup: &Setup) -> Option<Session> {
    let config = &setup.config;
    let stored = storage::load_tokens(config.cache_location)?;
    let now = browser::now_secs();
    match auth.restore(setup, stored, now).await {
        Ok(session) if config.use_refresh_tokens && session.refresh_token.is_some() => {
            if session.usable_as_stored(now) {
                return Some(session);
            }
            // `refresh` checks that the renewed tokens are this session's before storing them.
            match auth.refresh(setup, &session).await {
                Ok(renewed) => Some(renewed),
                // The provider could not answer now: a still-valid session is kept, and its
                // renewal retried on schedule.
                Err(e)
                    if crate::decide::classify(&e, true) == crate::decide::Failure::Passing
                        && session.access_token.is_some()
                        && session.expires_at() > now =>
                {
                    Some(session)
                }
                _ => {
                    storage::clear_tokens();
                    None
                }
            }
        }
        Ok(session) if session.expires_at() > now => Some(session),
        _ => {
            storage::clear_tokens();
            None
        }
    }
}
