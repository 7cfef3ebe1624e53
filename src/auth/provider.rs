//! `<AuthProvider>`: boots the auth state and handles the authorization response.

use hashgate_protocol::{
    fragment::{looks_like_authorization_response, parse_fragment, AuthorizationResponse},
    return_to::sanitize_return_to,
    AccessToken, AuthConfig, IdToken, Nonce, ProviderMetadata,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use super::browser;
use super::context::{AuthContext, AuthState, LOGOUT_CHANNEL};
use super::error::AuthError;
use super::session::Session;
use super::silent::silent_authorize;
use super::storage;
use super::validate::{validate_tokens, TokenInput};

/// Provides the [`AuthContext`] to `children` and carries the page's `data-auth-state`.
///
/// Must sit inside the `<Router>`. On start it removes any authorization response from the address
/// bar, loads `/auth_config.json` and the provider's discovery document, then either completes a
/// login (on the configured `redirectPath`) or restores a stored session.
#[component]
pub fn AuthProvider(
    /// The app, which may call [`super::use_auth`] anywhere below.
    children: Children,
) -> impl IntoView {
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
                    // Fragment captured → validated session: `cargo xtask bench` reads this.
                    browser::measure(CALLBACK_MEASURE, CALLBACK_START_MARK);
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

    // A logout in another tab of the app signs this one out too (no second trip to the provider).
    browser::on_broadcast(LOGOUT_CHANNEL, move |message| {
        if message == "logout" {
            auth.forget_session();
            auth.state.set(AuthState::Anonymous);
        }
    });

    view! {
        <div class="app-root" data-auth-state=move || auth.status().as_str()>
            {children()}
        </div>
    }
}

/// User Timing mark set when an authorization response is taken from the URL.
pub const CALLBACK_START_MARK: &str = "hashgate:callback-start";
/// User Timing measure from [`CALLBACK_START_MARK`] to the validated session.
pub const CALLBACK_MEASURE: &str = "hashgate:callback";

/// A fragment that looks like an authorization response, and the path it arrived on.
struct Captured {
    fragment: String,
    path: String,
}

fn capture_authorization_response() -> Option<Captured> {
    let (hash, pathname, search, _) = browser::location_parts().ok()?;
    if hash.len() <= 1 || !looks_like_authorization_response(&hash) {
        return None;
    }
    // If the address bar cannot be rewritten the response is not used at all.
    browser::replace_url(&format!("{pathname}{search}")).ok()?;
    browser::mark(CALLBACK_START_MARK);
    Some(Captured {
        fragment: hash,
        path: pathname,
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
    let (config, metadata) = auth.ready().await?;
    if let Some(captured) = captured {
        if captured.path == config.redirect_path {
            let (session, return_to) =
                complete_login(auth, &config, &metadata, &captured.fragment).await?;
            return Ok(Start::SignedIn(Box::new(session), Some(return_to)));
        }
        // A response anywhere else was not asked for: it is dropped unread.
    }
    if let Some(session) = restore_session(auth, &config, &metadata).await {
        return Ok(Start::SignedIn(Box::new(session), None));
    }
    // Tokens live in memory by default, so a reload has none: one silent attempt restores the
    // session if the provider still has one. Any failure just means "signed out".
    match silent_authorize(auth, &config, &metadata).await {
        Ok(session) => Ok(Start::SignedIn(Box::new(session), None)),
        Err(_) => Ok(Start::SignedOut),
    }
}

/// Checks an authorization response against its transaction; returns the session and where to go.
async fn complete_login(
    auth: AuthContext,
    config: &AuthConfig,
    metadata: &ProviderMetadata,
    fragment: &str,
) -> Result<(Session, String), AuthError> {
    let now = browser::now_secs();
    match parse_fragment(fragment)? {
        AuthorizationResponse::Error(err) => {
            // RFC 6749 §10.12: an error is only believed for a login we started; either way the
            // transaction is used up, so the same response cannot be replayed.
            let state = err
                .state
                .as_ref()
                .ok_or(AuthError::Incomplete("it has no state"))?;
            storage::take_transaction(state.secret(), now)?;
            Err(AuthError::provider(
                &err.error,
                err.error_description.as_deref(),
            ))
        }
        AuthorizationResponse::Success(response) => {
            let state = response
                .state
                .as_ref()
                .ok_or(AuthError::Incomplete("it has no state"))?;
            let transaction = storage::take_transaction(state.secret(), now)?;
            let input = TokenInput::from_response(response, transaction.nonce);
            let session = validate_with_cache(auth, config, metadata, input, now).await?;
            let return_to =
                sanitize_return_to(&transaction.return_to).unwrap_or_else(|| "/".into());
            Ok((session, return_to))
        }
    }
}

/// Runs the shared validation with the context's key cache (so rotations are remembered).
pub(crate) async fn validate_with_cache(
    auth: AuthContext,
    config: &AuthConfig,
    metadata: &ProviderMetadata,
    input: TokenInput,
    now: i64,
) -> Result<Session, AuthError> {
    let mut keys = auth.provider.with_value(|p| p.keys.clone());
    let result = validate_tokens(&mut keys, config, metadata, input, now).await;
    auth.provider.update_value(|p| p.keys = keys);
    result
}

/// A session persisted with `cacheLocation: session | local`, validated again as if new.
async fn restore_session(
    auth: AuthContext,
    config: &AuthConfig,
    metadata: &ProviderMetadata,
) -> Option<Session> {
    let stored = storage::load_tokens(config.cache_location)?;
    let now = browser::now_secs();
    let input = TokenInput {
        access_token: stored.access_token.map(AccessToken::new),
        token_type: Some("Bearer".into()),
        id_token: Some(IdToken::new(stored.id_token)),
        expires_in: None,
        scope: Some(stored.scope),
        nonce: Nonce::new(stored.nonce),
        expires_at: stored.expires_at,
        // The ID token was fresh when first accepted; now only its expiry matters.
        max_iat_age_secs: Some(i64::MAX / 4),
    };
    match validate_with_cache(auth, config, metadata, input, now).await {
        Ok(session) if session.expires_at() > now => Some(session),
        _ => {
            storage::clear_tokens();
            None
        }
    }
}
