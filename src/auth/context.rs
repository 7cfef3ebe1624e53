//! The auth context: reactive state plus `login`, `logout` and `access_token`.

use hashgate_protocol::{
    logout_url, return_to::sanitize_return_to, scope, AccessToken, AuthConfig, AuthorizeRequest,
    Nonce, ProviderMetadata, RawAuthConfig, State, Transaction,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::browser;
use super::error::AuthError;
use super::session::{Session, User};
use super::storage;
use super::validate::KeyCache;

/// Where the app's sign-in settings are fetched from (same origin, so deployments change it without a rebuild).
pub const CONFIG_PATH: &str = "/auth_config.json";
/// `access_token()` treats a token this close to expiry as expired.
pub const EXPIRY_MARGIN_SECS: i64 = 60;

/// The sign-in state, as pages render it.
#[derive(Clone, Debug, PartialEq)]
pub enum AuthState {
    /// Settings, discovery or a callback are being processed.
    Loading,
    /// Nobody is signed in.
    Anonymous,
    /// A validated session.
    Authenticated(Session),
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

/// The provider's settings once loaded: config, discovery and the key cache.
#[derive(Clone, Debug, Default)]
pub(crate) struct Provider {
    pub config: Option<AuthConfig>,
    pub metadata: Option<ProviderMetadata>,
    pub keys: KeyCache,
}

/// Handle to the sign-in state; `Copy`, so closures can capture it freely.
#[derive(Clone, Copy)]
pub struct AuthContext {
    pub(crate) state: RwSignal<AuthState>,
    pub(crate) provider: StoredValue<Provider>,
}

/// The [`AuthContext`] from the nearest `<AuthProvider>`.
///
/// # Panics
/// When called outside an `<AuthProvider>` (a programming error); use [`try_use_auth`] to check.
pub fn use_auth() -> AuthContext {
    try_use_auth().expect("use_auth() must be called inside <AuthProvider>")
}

/// The [`AuthContext`] from the nearest `<AuthProvider>`, if there is one.
pub fn try_use_auth() -> Option<AuthContext> {
    use_context::<AuthContext>()
}

impl AuthContext {
    pub(crate) fn new() -> Self {
        AuthContext {
            state: RwSignal::new(AuthState::Loading),
            provider: StoredValue::new(Provider::default()),
        }
    }

    /// The current state (reactive).
    pub fn state(&self) -> AuthState {
        self.state.get()
    }

    /// The current status without data (reactive).
    pub fn status(&self) -> AuthStatus {
        self.state.with(|s| match s {
            AuthState::Loading => AuthStatus::Loading,
            AuthState::Anonymous => AuthStatus::Anonymous,
            AuthState::Authenticated(_) => AuthStatus::Authenticated,
            AuthState::Error(_) => AuthStatus::Error,
        })
    }

    /// True when signed in (reactive).
    pub fn is_authenticated(&self) -> bool {
        self.status() == AuthStatus::Authenticated
    }

    /// The validated session, if signed in (reactive).
    pub fn session(&self) -> Option<Session> {
        self.state.with(|s| match s {
            AuthState::Authenticated(session) => Some(session.clone()),
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
        self.provider.with_value(|p| p.config.clone())
    }

    /// A valid access token for the API, or [`AuthError::LoginRequired`].
    pub async fn access_token(&self) -> Result<AccessToken, AuthError> {
        let session = self.state.with_untracked(|s| match s {
            AuthState::Authenticated(session) => Some(session.clone()),
            _ => None,
        });
        match session {
            Some(s) if !s.access_token_expiring(browser::now_secs(), EXPIRY_MARGIN_SECS) => {
                s.access_token.ok_or(AuthError::LoginRequired)
            }
            _ => Err(AuthError::LoginRequired),
        }
    }

    /// Starts a login: stores a single-use transaction and leaves for the provider's `/authorize`.
    pub fn login(&self, options: LoginOptions) {
        let this = *self;
        spawn_local(async move {
            if let Err(e) = this.start_login(options).await {
                this.state.set(AuthState::Error(e));
            }
        });
    }

    async fn start_login(&self, options: LoginOptions) -> Result<(), AuthError> {
        let (config, metadata) = self.ready().await?;
        let (_, pathname, search, origin) = browser::location_parts()?;
        let return_to = options
            .return_to
            .as_deref()
            .and_then(sanitize_return_to)
            .or_else(|| sanitize_return_to(&format!("{pathname}{search}")))
            .unwrap_or_else(|| "/".to_string());
        let state = State::from_random(&browser::random_32()?);
        let nonce = Nonce::from_random(&browser::random_32()?);
        let now = browser::now_secs();
        let extra: Vec<&str> = options.extra_scopes.iter().map(String::as_str).collect();
        let scope = scope::with_openid(&scope::merge(&config.scope, &extra));
        let redirect_uri = format!("{origin}{}", config.redirect_path);
        let url = AuthorizeRequest {
            authorization_endpoint: &metadata.authorization_endpoint,
            response_type: config.response_type.as_str(),
            client_id: &config.client_id,
            redirect_uri: &redirect_uri,
            scope: &scope,
            audience: config.audience.as_deref(),
            state: &state,
            nonce: &nonce,
            prompt: options.prompt.as_deref(),
            login_hint: options.login_hint.as_deref(),
            response_mode: None,
        }
        .to_url();
        storage::begin_transaction(
            Transaction {
                state,
                nonce,
                return_to,
                created_at: now,
                silent: false,
            },
            now,
        )?;
        browser::redirect(&url)
    }

    /// Signs out: forgets the session here, then ends the provider's session and returns to the app.
    pub fn logout(&self) {
        let session = self.session();
        storage::clear_tokens();
        self.state.set(AuthState::Anonymous);
        let (config, metadata) = self
            .provider
            .with_value(|p| (p.config.clone(), p.metadata.clone()));
        let (Some(config), Some(metadata)) = (config, metadata) else {
            return;
        };
        let Ok((_, _, _, origin)) = browser::location_parts() else {
            return;
        };
        let url = logout_url(
            &metadata,
            &config.issuer,
            &config.client_id,
            &format!("{origin}/"),
            session.as_ref().map(|s| &s.id_token),
        );
        if let Err(e) = browser::redirect(&url) {
            self.state.set(AuthState::Error(e));
        }
    }

    /// Config and discovery, loading whichever is missing.
    pub(crate) async fn ready(&self) -> Result<(AuthConfig, ProviderMetadata), AuthError> {
        let config = match self.provider.with_value(|p| p.config.clone()) {
            Some(config) => config,
            None => {
                let raw: RawAuthConfig = browser::fetch_json(CONFIG_PATH, "configuration file /auth_config.json")
                    .await
                    .map_err(|e| AuthError::Config(e.to_string()))?;
                let config = raw.validate()?;
                self.provider.update_value(|p| p.config = Some(config.clone()));
                config
            }
        };
        let metadata = match self.provider.with_value(|p| p.metadata.clone()) {
            Some(metadata) => metadata,
            None => {
                let url = format!("{}.well-known/openid-configuration", config.issuer);
                let metadata: ProviderMetadata =
                    browser::fetch_json(&url, "identity provider's discovery document").await?;
                // OIDC Discovery §4.3: the issuer in the document must be exactly the one we trust.
                metadata.check(&config.issuer)?;
                self.provider.update_value(|p| p.metadata = Some(metadata.clone()));
                metadata
            }
        };
        Ok((config, metadata))
    }
}
