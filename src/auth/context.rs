//! The auth context: reactive state plus `login`, `logout` and `access_token`.

use std::time::Duration;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use hashgate_protocol::{
    logout_url, return_to::sanitize_return_to, scope, AccessToken, AuthConfig, AuthorizeRequest,
    Nonce, ProviderMetadata, RawAuthConfig, State, Transaction,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::browser;
use super::error::AuthError;
use super::session::{Session, StoredTokens, User};
use super::silent::silent_authorize;
use super::storage;
use super::validate::{validate_tokens, KeyCache, TokenInput};

/// Where the app's sign-in settings are fetched from (same origin, so deployments change it without a rebuild).
pub const CONFIG_PATH: &str = "/auth_config.json";
/// Name of the `BroadcastChannel` that tells the app's other tabs about a logout.
pub const LOGOUT_CHANNEL: &str = "hashgate.auth";
/// The message on [`LOGOUT_CHANNEL`] for a logout.
pub const LOGOUT_MESSAGE: &str = "logout";
/// The message on [`LOGOUT_CHANNEL`] when a renewal found another user at the provider.
pub const USER_CHANGED_MESSAGE: &str = "user-changed";
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

/// What signing in needs, loaded once: the app's config, the provider's discovery document and
/// its signing keys.
#[derive(Clone, Debug, Default)]
struct SignInSetup {
    config: Option<AuthConfig>,
    metadata: Option<ProviderMetadata>,
    keys: KeyCache,
}

/// Handle to the sign-in state; `Copy`, so closures can capture it freely.
#[derive(Clone, Copy)]
pub struct AuthContext {
    pub(crate) state: RwSignal<AuthState>,
    /// The status alone: changes only when the kind of state does, so a renewed session (one
    /// signed-in state replacing another) does not rebuild the pages that depend on it.
    status: Memo<AuthStatus>,
    setup: StoredValue<SignInSetup>,
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
        let result = self.silent_authorize(&config, &metadata).await;
        let current_user = self.state.with_untracked(|s| match s {
            AuthState::Authenticated(session) => Some(session.claims.sub.clone()),
            _ => None,
        });
        match result {
            // OIDC Core §2: `sub` identifies the user. A renewal that comes back for someone else
            // (the provider's session changed in another tab, or on a shared computer) must not
            // swap users under the page: sign out here and in every tab.
            Ok(session) if current_user.is_some_and(|sub| sub != session.claims.sub) => {
                self.forget_session();
                browser::broadcast(LOGOUT_CHANNEL, USER_CHANGED_MESSAGE);
                self.state.set(AuthState::Error(AuthError::UserChanged));
                Err(AuthError::UserChanged)
            }
            Ok(session) => {
                self.accept_session(session.clone());
                Ok(session)
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

    /// One silent `prompt=none` attempt with the context's key cache (so rotations are kept).
    pub(crate) async fn silent_authorize(
        &self,
        config: &AuthConfig,
        metadata: &ProviderMetadata,
    ) -> Result<Session, AuthError> {
        let mut keys = self.setup.with_value(|s| s.keys.clone());
        let result = silent_authorize(&mut keys, config, metadata).await;
        self.setup.update_value(|s| s.keys = keys);
        result
    }

    /// Validates `input` with the context's key cache (so rotations are kept).
    pub(crate) async fn validate(
        &self,
        config: &AuthConfig,
        metadata: &ProviderMetadata,
        input: TokenInput,
        now: i64,
    ) -> Result<Session, AuthError> {
        let mut keys = self.setup.with_value(|s| s.keys.clone());
        let result = validate_tokens(&mut keys, config, metadata, input, now).await;
        self.setup.update_value(|s| s.keys = keys);
        result
    }

    /// Signs out here because another tab told us to; `message` says why.
    pub(crate) fn signed_out_elsewhere(&self, message: &str) {
        self.forget_session();
        self.state.set(if message == USER_CHANGED_MESSAGE {
            AuthState::Error(AuthError::UserChanged)
        } else {
            AuthState::Anonymous
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
        let url = AuthorizeRequest {
            prompt: options.prompt.as_deref(),
            login_hint: options.login_hint.as_deref(),
            ..AuthorizeRequest::new(&config, &metadata, &redirect_uri, &scope, &state, &nonce)
        }
        .to_url();
        storage::begin_transaction(
            Transaction {
                state,
                nonce,
                return_to,
                created_at: now,
            },
            now,
        )?;
        browser::redirect(&url)
    }

    /// Signs out: forgets the session here and in the app's other tabs, then ends the provider's
    /// session and returns to the app.
    pub fn logout(&self) {
        let session = self.state.with_untracked(|s| match s {
            AuthState::Authenticated(session) => Some(session.as_ref().clone()),
            _ => None,
        });
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
        let url = logout_url(
            &metadata,
            &config,
            &format!("{}/", location.origin),
            session.as_ref().map(|s| &s.id_token),
        );
        self.leaving.set_value(true);
        self.state.set(AuthState::Anonymous);
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
                let raw: RawAuthConfig =
                    browser::fetch_json(CONFIG_PATH, "configuration file /auth_config.json")
                        .await
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
                let metadata: ProviderMetadata =
                    browser::fetch_json(&url, "identity provider's discovery document").await?;
                // OIDC Discovery §4.3: the issuer in the document must be exactly the one we trust.
                metadata.check(&config.issuer)?;
                self.setup
                    .update_value(|s| s.metadata = Some(metadata.clone()));
                metadata
            }
        };
        Ok((config, metadata))
    }
}
