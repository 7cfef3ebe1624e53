//! The auth context: reactive state plus `login`, `logout` and `access_token`.

use std::time::Duration;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use hashgate_protocol::{
    logout_url, return_to::sanitize_return_to, scope, AccessToken, AuthConfig, AuthorizeRequest,
    CodeVerifier, IdToken, Nonce, ProviderMetadata, RawAuthConfig, RefreshToken, State,
    TokenResponse, Transaction,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::browser;
use super::error::AuthError;
use super::session::{Session, StoredTokens, User};
use super::silent::silent_authorize;
use super::storage;
use super::token;
use super::validate::{validate_tokens, KeyCache, TokenInput};

/// Where the app's sign-in settings are fetched from (same origin, so deployments change it without a rebuild).
pub const CONFIG_PATH: &str = "/auth_config.json";
/// Name of the `BroadcastChannel` that tells the app's other tabs about a logout.
pub const LOGOUT_CHANNEL: &str = "hashgate.auth";
/// The message on [`LOGOUT_CHANNEL`] for a logout.
pub const LOGOUT_MESSAGE: &str = "logout";
/// The message on [`LOGOUT_CHANNEL`] when a renewal found another user at the provider.
pub const USER_CHANGED_MESSAGE: &str = "user-changed";
/// The message on [`LOGOUT_CHANNEL`] when the provider refused the refresh token.
pub const SESSION_ENDED_MESSAGE: &str = "session-ended";
/// The Web Lock (or storage lease) held while a refresh token is redeemed.
const RENEWAL_LOCK: &str = "hashgate.auth.renewal";
/// A hidden tab checks again this often instead of renewing in the background.
const HIDDEN_TAB_RECHECK: Duration = Duration::from_secs(30);

type Renewal = Shared<LocalBoxFuture<'static, Result<Session, AuthError>>>;

/// The sign-in state, as pages render it.
#[derive(Clone, Debug, PartialEq)]
pub enum AuthState {
    /// Settings, discovery or a callback are being processed.
    Loading,
    /// Nobody is signed in.
    Anonymous,
    /// A validated session (boxed: it is far larger than the other states).
    Authenticated(Box<Session>),
    /// The last sign-in step failed; the error is a sentence for the user.
    Error(AuthError),
}

/// [`AuthState`] without its data: what `data-auth-state` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthStatus {
    /// See [`AuthState::Loading`].
    Loading,
    /// See [`AuthState::Anonymous`].
    Anonymous,
    /// See [`AuthState::Authenticated`].
    Authenticated,
    /// See [`AuthState::Error`].
    Error,
}

impl AuthStatus {
    /// The value of the page's `data-auth-state` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthStatus::Loading => "loading",
            AuthStatus::Anonymous => "anonymous",
            AuthStatus::Authenticated => "authenticated",
            AuthStatus::Error => "error",
        }
    }
}

/// Options for [`AuthContext::login`].
#[derive(Clone, Debug, Default)]
pub struct LoginOptions {
    /// Same-origin path to land on after login; defaults to the current path.
    pub return_to: Option<String>,
    /// OIDC `prompt` (`login`, `consent`, `none`).
    pub prompt: Option<String>,
    /// OIDC `login_hint`, e.g. the user's email.
    pub login_hint: Option<String>,
    /// Scopes to request on top of the configured ones.
    pub extra_scopes: Vec<String>,
}

/// What signing in needs, loaded once: the app's config and the provider's discovery document.
#[derive(Clone, Debug, Default)]
struct SignInSetup {
    config: Option<AuthConfig>,
    metadata: Option<ProviderMetadata>,
}

/// Handle to the sign-in state; `Copy`, so closures can capture it freely.
#[derive(Clone, Copy)]
pub struct AuthContext {
    pub(crate) state: RwSignal<AuthState>,
    /// The status alone: changes only when the kind of state does, so a renewed session (one
    /// signed-in state replacing another) does not rebuild the pages that depend on it.
    status: Memo<AuthStatus>,
    setup: StoredValue<SignInSetup>,
    /// The provider's signing keys, shared by every validation.
    pub(crate) keys: KeyCache,
    /// The renewal in flight, shared by every caller that needs a fresh token meanwhile.
    renewal: StoredValue<Option<Renewal>, LocalStorage>,
    /// The one scheduled renewal timer.
    timer: StoredValue<Option<TimeoutHandle>>,
    /// Set while the page is leaving for the provider's logout, so that nothing (such as a route
    /// guard seeing "anonymous") starts a login in between.
    leaving: StoredValue<bool>,
}

/// The [`AuthContext`] from the nearest `<AuthProvider>`.
///
/// # Panics
/// When called outside an `<AuthProvider>` (a programming error); use [`try_use_auth`] to check.
#[allow(clippy::expect_used)] // documented panic, like leptos' own `expect_context`
pub fn use_auth() -> AuthContext {
    try_use_auth().expect("use_auth() must be called inside <AuthProvider>")
}

/// The [`AuthContext`] from the nearest `<AuthProvider>`, if there is one.
pub fn try_use_auth() -> Option<AuthContext> {
    use_context::<AuthContext>()
}

impl AuthContext {
    pub(crate) fn new() -> Self {
        let state = RwSignal::new(AuthState::Loading);
        AuthContext {
            state,
            status: Memo::new(move |_| {
                state.with(|s| match s {
                    AuthState::Loading => AuthStatus::Loading,
                    AuthState::Anonymous => AuthStatus::Anonymous,
                    AuthState::Authenticated(_) => AuthStatus::Authenticated,
                    AuthState::Error(_) => AuthStatus::Error,
                })
            }),
            setup: StoredValue::new(SignInSetup::default()),
            keys: KeyCache::new(),
            renewal: StoredValue::new_local(None),
            timer: StoredValue::new(None),
            leaving: StoredValue::new(false),
        }
    }

    /// The current state (reactive).
    pub fn state(&self) -> AuthState {
        self.state.get()
    }

    /// The current status without data (reactive).
    pub fn status(&self) -> AuthStatus {
        self.status.get()
    }

    /// True when signed in (reactive).
    pub fn is_authenticated(&self) -> bool {
        self.status() == AuthStatus::Authenticated
    }

    /// The validated session, if signed in (reactive).
    pub fn session(&self) -> Option<Session> {
        self.state.with(|s| match s {
            AuthState::Authenticated(session) => Some(session.as_ref().clone()),
            _ => None,
        })
    }

    /// The signed-in user's profile claims (reactive).
    pub fn user(&self) -> Option<User> {
        self.state.with(|s| match s {
            AuthState::Authenticated(session) => Some(session.user()),
            _ => None,
        })
    }

    /// The last error, if the state is [`AuthState::Error`] (reactive).
    pub fn error(&self) -> Option<AuthError> {
        self.state.with(|s| match s {
            AuthState::Error(e) => Some(e.clone()),
            _ => None,
        })
    }

    /// The loaded `auth_config.json`, once it is loaded (not reactive).
    pub fn config(&self) -> Option<AuthConfig> {
        self.setup.with_value(|s| s.config.clone())
    }

    /// A valid access token for the API. A token that has expired or is about to is renewed
    /// silently first (concurrent callers share one renewal); [`AuthError::LoginRequired`] when
    /// nobody is signed in.
    pub async fn access_token(&self) -> Result<AccessToken, AuthError> {
        let session = self.state.with_untracked(|s| match s {
            AuthState::Authenticated(session) => Some(session.as_ref().clone()),
            _ => None,
        });
        let session = match session {
            None => return Err(AuthError::LoginRequired),
            Some(s) if s.needs_renewal(browser::now_secs()) => self.renew().await?,
            Some(s) => s,
        };
        session.access_token.ok_or(AuthError::LoginRequired)
    }

    /// Renews the session with a silent `prompt=none` request. On `login_required` (and the like)
    /// the user is signed out here too; on other failures the error is shown.
    pub async fn renew(&self) -> Result<Session, AuthError> {
        let running = self.renewal.with_value(|r| r.clone());
        let renewal = match running {
            Some(renewal) => renewal,
            None => {
                let this = *self;
                let renewal = async move {
                    let result = this.renew_once().await;
                    this.renewal.set_value(None);
                    result
                }
                .boxed_local()
                .shared();
                self.renewal.set_value(Some(renewal.clone()));
                renewal
            }
        };
        renewal.await
    }

    async fn renew_once(&self) -> Result<Session, AuthError> {
        let (config, metadata) = self.ready().await?;
        let current = self.session_untracked();
        let result = match &current {
            Some(session) if config.use_refresh_tokens && session.refresh_token.is_some() => {
                self.refresh(&config, &metadata, session).await
            }
            _ => silent_authorize(self.keys, &config, &metadata).await,
        };
        // A logout (here or in another tab) while the renewal ran wins: its result is dropped.
        let Some(current) = current.filter(|_| self.is_authenticated_untracked()) else {
            return Err(AuthError::LoginRequired);
        };
        match result {
            // OIDC Core §2: `sub` identifies the user. A renewal that comes back for someone else
            // (the provider's session changed in another tab, or on a shared computer) must not
            // swap users under the page: sign out here and in every tab.
            Ok(session) if session.claims.sub != current.claims.sub => {
                self.sign_out_everywhere(USER_CHANGED_MESSAGE, AuthError::UserChanged);
                Err(AuthError::UserChanged)
            }
            Ok(session) => {
                self.accept_session(session.clone());
                Ok(session)
            }
            // RFC 6749 §5.2 invalid_grant: the refresh token is revoked, expired or was reused;
            // every tab shares the provider's verdict.
            Err(e) if current.refresh_token.is_some() && e.is_invalid_grant() => {
                self.sign_out_everywhere(SESSION_ENDED_MESSAGE, AuthError::RefreshRefused);
                Err(AuthError::RefreshRefused)
            }
            Err(e) => {
                self.forget_session();
                self.state.set(if e.needs_interaction() {
                    AuthState::Anonymous
                } else {
                    AuthState::Error(e.clone())
                });
                Err(e)
            }
        }
    }

    /// Forgets the session here, tells the other tabs (`message`), and shows `error`.
    fn sign_out_everywhere(&self, message: &str, error: AuthError) {
        self.forget_session();
        browser::broadcast(LOGOUT_CHANNEL, message);
        self.state.set(AuthState::Error(error));
    }

    fn session_untracked(&self) -> Option<Session> {
        self.state.with_untracked(|s| match s {
            AuthState::Authenticated(session) => Some(session.as_ref().clone()),
            _ => None,
        })
    }

    /// Renews `session` with its refresh token, holding the app-wide renewal lock: one renewal
    /// at a time across every tab, because two tabs redeeming the same rotated token would trip
    /// the provider's reuse detection and end the session everywhere. A tab that waited finds
    /// the tokens another tab just stored (`cacheLocation: local`) and takes them instead.
    pub(crate) async fn refresh(
        &self,
        config: &AuthConfig,
        metadata: &ProviderMetadata,
        session: &Session,
    ) -> Result<Session, AuthError> {
        let this = *self;
        browser::with_lock(RENEWAL_LOCK, || async move {
            let now = browser::now_secs();
            let mut session = session.clone();
            if let Some(stored) = storage::load_tokens(config.cache_location) {
                let newer = stored.refresh_token.is_some()
                    && stored.refresh_token.as_deref()
                        != session.refresh_token.as_ref().map(|t| t.secret());
                if newer {
                    match this.restore(config, metadata, stored, now).await {
                        Ok(stored) if !stored.needs_renewal(now) && stored.claims.exp > now => {
                            return Ok(stored)
                        }
                        Ok(stored) => session = stored,
                        Err(_) => {}
                    }
                }
            }
            let Some(refresh_token) = session.refresh_token.clone() else {
                return silent_authorize(this.keys, config, metadata).await;
            };
            let renewed =
                token::refresh(this.keys, config, metadata, &session, &refresh_token, now).await?;
            // A logout while the request ran wins: its tokens must not come back into storage.
            if this.signed_out_meanwhile() {
                return Err(AuthError::LoginRequired);
            }
            // Stored before the lock is released, so a tab waiting for it finds the new token.
            storage::save_tokens(config.cache_location, &StoredTokens::from(&renewed));
            Ok(renewed)
        })
        .await
    }

    /// A session read back from storage, validated again as if new (the ID token's age aside).
    pub(crate) async fn restore(
        &self,
        config: &AuthConfig,
        metadata: &ProviderMetadata,
        stored: StoredTokens,
        now: i64,
    ) -> Result<Session, AuthError> {
        let rotations = stored.rotations;
        let renewable = config.use_refresh_tokens && stored.refresh_token.is_some();
        let input = TokenInput {
            response: TokenResponse {
                access_token: stored.access_token.map(AccessToken::new),
                token_type: Some("Bearer".into()),
                id_token: Some(IdToken::new(stored.id_token)),
                scope: Some(stored.scope),
                refresh_token: stored.refresh_token.map(RefreshToken::new),
                ..TokenResponse::default()
            },
            nonce: Nonce::new(stored.nonce),
            expires_at: stored.expires_at,
            // The ID token was fresh when first accepted; now only its expiry matters.
            max_iat_age_secs: Some(i64::MAX / 4),
            // After a refresh the ID token may lack the nonce (OIDC Core §12.2).
            nonce_required: rotations == 0,
            // A session with a refresh token is renewed at once if its ID token has expired.
            allow_expired_id_token: renewable,
        };
        let mut session = validate_tokens(self.keys, config, metadata, input, now).await?;
        session.rotations = rotations;
        Ok(session)
    }

    /// Signs out here because another tab told us to; `message` says why.
    pub(crate) fn signed_out_elsewhere(&self, message: &str) {
        self.forget_session();
        self.state.set(match message {
            USER_CHANGED_MESSAGE => AuthState::Error(AuthError::UserChanged),
            SESSION_ENDED_MESSAGE => AuthState::Error(AuthError::RefreshRefused),
            _ => AuthState::Anonymous,
        });
    }

    /// Makes `session` current: persists it if configured, and schedules its renewal.
    pub(crate) fn accept_session(&self, session: Session) {
        if let Some(config) = self.config() {
            storage::save_tokens(config.cache_location, &StoredTokens::from(&session));
        }
        let renew_at = session.renew_at();
        self.state.set(AuthState::Authenticated(Box::new(session)));
        self.schedule_renewal(renew_at);
    }

    /// Drops the session here (timer, storage); the caller sets the new state.
    pub(crate) fn forget_session(&self) {
        if let Some(handle) = self.timer.try_update_value(|t| t.take()).flatten() {
            handle.clear();
        }
        storage::clear_tokens();
    }

    fn schedule_renewal(&self, at: i64) {
        if let Some(handle) = self.timer.try_update_value(|t| t.take()).flatten() {
            handle.clear();
        }
        let delay =
            Duration::from_secs(u64::try_from(at - browser::now_secs()).unwrap_or(0).max(1));
        let this = *self;
        let handle = set_timeout_with_handle(
            move || {
                this.timer.set_value(None);
                if !this.is_authenticated_untracked() {
                    return;
                }
                // A hidden tab does not renew in the background; it looks again later (one timer).
                if browser::document_hidden() {
                    this.schedule_renewal(
                        browser::now_secs() + HIDDEN_TAB_RECHECK.as_secs() as i64,
                    );
                    return;
                }
                spawn_local(async move {
                    let _ = this.renew().await;
                });
            },
            delay,
        );
        self.timer.set_value(handle.ok());
    }

    /// True once the user signed out (here, in another tab, or by leaving for the provider's
    /// logout): a renewal that finishes later is dropped.
    fn signed_out_meanwhile(&self) -> bool {
        self.leaving.get_value()
            || self
                .state
                .with_untracked(|s| matches!(s, AuthState::Anonymous | AuthState::Error(_)))
    }

    fn is_authenticated_untracked(&self) -> bool {
        self.state
            .with_untracked(|s| matches!(s, AuthState::Authenticated(_)))
    }

    /// Starts a login: stores a single-use transaction and leaves for the provider's `/authorize`.
    pub fn login(&self, options: LoginOptions) {
        if self.leaving.get_value() {
            return;
        }
        let this = *self;
        spawn_local(async move {
            if let Err(e) = this.start_login(options).await {
                this.state.set(AuthState::Error(e));
            }
        });
    }

    async fn start_login(&self, options: LoginOptions) -> Result<(), AuthError> {
        let (config, metadata) = self.ready().await?;
        let location = browser::location()?;
        let return_to = options
            .return_to
            .as_deref()
            .and_then(sanitize_return_to)
            .or_else(|| sanitize_return_to(&format!("{}{}", location.pathname, location.search)))
            .unwrap_or_else(|| "/".to_string());
        let state = State::from_random(&browser::random_32()?);
        let nonce = Nonce::from_random(&browser::random_32()?);
        let now = browser::now_secs();
        let extra: Vec<&str> = options.extra_scopes.iter().map(String::as_str).collect();
        let scope = scope::with_openid(&scope::merge(&config.scope, &extra));
        let redirect_uri = config.redirect_uri(&location.origin);
        // RFC 7636: the code flow binds the code to this tab with a verifier only it knows.
        let code_verifier = match config.response_type.is_code() {
            true => Some(CodeVerifier::from_random(&browser::random_32()?)),
            false => None,
        };
        let code_challenge = match &code_verifier {
            Some(v) => Some(CodeVerifier::s256_challenge(
                &browser::sha256(v.secret().as_bytes()).await?,
            )),
            None => None,
        };
        let url = AuthorizeRequest {
            prompt: options.prompt.as_deref(),
            login_hint: options.login_hint.as_deref(),
            code_challenge: code_challenge.as_deref(),
            ..AuthorizeRequest::new(&config, &metadata, &redirect_uri, &scope, &state, &nonce)
        }
        .to_url();
        storage::begin_transaction(
            Transaction {
                state,
                nonce,
                return_to,
                created_at: now,
                code_verifier,
            },
            now,
        )?;
        browser::redirect(&url)
    }

    /// Signs out: forgets the session here and in the app's other tabs, revokes the refresh
    /// token (RFC 7009) if there is one, then ends the provider's session and returns to the app.
    pub fn logout(&self) {
        let session = self.session_untracked();
        self.forget_session();
        browser::broadcast(LOGOUT_CHANNEL, LOGOUT_MESSAGE);
        let (config, metadata) = self
            .setup
            .with_value(|s| (s.config.clone(), s.metadata.clone()));
        let (Some(config), Some(metadata), Ok(location)) = (config, metadata, browser::location())
        else {
            self.state.set(AuthState::Anonymous);
            return;
        };
        self.leaving.set_value(true);
        self.state.set(AuthState::Anonymous);
        let this = *self;
        spawn_local(async move {
            if let Some(refresh_token) = session.as_ref().and_then(|s| s.refresh_token.as_ref()) {
                // Done before leaving: the navigation would cancel the request.
                token::revoke(&config, &metadata, refresh_token).await;
            }
            this.leave_for_provider_logout(&config, &metadata, &location, session.as_ref());
        });
    }

    fn leave_for_provider_logout(
        &self,
        config: &AuthConfig,
        metadata: &ProviderMetadata,
        location: &browser::Location,
        session: Option<&Session>,
    ) {
        let url = logout_url(
            metadata,
            config,
            &format!("{}/", location.origin),
            session.map(|s| &s.id_token),
        );
        if let Err(e) = browser::redirect(&url) {
            self.leaving.set_value(false);
            self.state.set(AuthState::Error(e));
        }
    }

    /// Config and discovery, loading whichever is missing.
    pub(crate) async fn ready(&self) -> Result<(AuthConfig, ProviderMetadata), AuthError> {
        let config = match self.setup.with_value(|s| s.config.clone()) {
            Some(config) => config,
            None => {
                const WHAT: &str = "configuration file /auth_config.json";
                let raw: RawAuthConfig = browser::fetch_document(CONFIG_PATH, WHAT, false)
                    .await
                    .and_then(|document| browser::read_document(&document, WHAT))
                    .map_err(|e| AuthError::ConfigFile(Box::new(e)))?;
                let config = raw.validate()?;
                self.setup.update_value(|s| s.config = Some(config.clone()));
                config
            }
        };
        let metadata = match self.setup.with_value(|s| s.metadata.clone()) {
            Some(metadata) => metadata,
            None => {
                let url = config.discovery_url();
                const WHAT: &str = "identity provider's discovery document";
                let document = browser::fetch_document(&url, WHAT, false).await?;
                let metadata: ProviderMetadata = browser::read_document(&document, WHAT)?;
                // OIDC Discovery §4.3: the issuer in the document must be exactly the one we trust.
                metadata.check(&config.issuer)?;
                if config.response_type.is_code() {
                    metadata.check_code_flow()?;
                }
                self.setup
                    .update_value(|s| s.metadata = Some(metadata.clone()));
                metadata
            }
        };
        Ok((config, metadata))
    }
}
