//! Login and logout: the redirect to the provider's `/authorize` with a single-use transaction,
//! and the sign-out that revokes every refresh token this browser holds before it ends the
//! provider's session.

use hashgate_protocol::{
    logout_url, return_to::sanitize_return_to, scope, AuthorizeRequest, Nonce, State, Transaction,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser;
use crate::context::AuthContext;
use crate::dpop;
use crate::error::AuthError;
use crate::renewal::revoke_all;
use crate::state::{AuthState, TabMessage, CHANNEL};
use crate::storage;

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

impl AuthContext {
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
        let setup = self.setup.ready().await?;
        let config = &setup.config;
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
        let (code_verifier, code_challenge) =
            match browser::new_pkce(config.response_type.is_code()).await? {
                Some((verifier, challenge)) => (Some(verifier), Some(challenge)),
                None => (None, None),
            };
        let jkt = dpop::login_jkt(config).await?;
        let url = AuthorizeRequest {
            prompt: options.prompt.as_deref(),
            login_hint: options.login_hint.as_deref(),
            code_challenge: code_challenge.as_deref(),
            dpop_jkt: jkt.as_deref(),
            ..AuthorizeRequest::new(
                config,
                &setup.metadata,
                &redirect_uri,
                &scope,
                &state,
                &nonce,
            )
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

    /// Signs out: forgets the session here and in the app's other tabs (each revokes its own
    /// refresh token when it hears of it), revokes every refresh token this tab can reach — its
    /// own and the stored one, which may be newer (RFC 7009) — then ends the provider's session
    /// and returns to the app. Access tokens already issued live until they expire. The DPoP
    /// key is deleted too: the next login binds a new one.
    pub fn logout(&self) {
        let session = self.session_untracked();
        let held = self.held_refresh_tokens();
        self.forget_session();
        browser::broadcast(CHANNEL, TabMessage::Logout.as_str());
        let (Some(setup), Ok(location)) = (self.setup.loaded(), browser::location()) else {
            self.state.set(AuthState::Anonymous);
            return;
        };
        self.leaving.set_value(true);
        self.state.set(AuthState::Anonymous);
        let this = *self;
        spawn_local(async move {
            // Done before leaving: the navigation would cancel the requests.
            revoke_all(&setup, held).await;
            if setup.config.use_dpop {
                dpop::delete_key().await;
            }
            let url = logout_url(
                &setup.metadata,
                &setup.config,
                &format!("{}/", location.origin),
                session.as_ref().map(|s| &s.id_token),
            );
            if let Err(e) = browser::redirect(&url) {
                this.leaving.set_value(false);
                this.state.set(AuthState::Error(e));
            }
        });
    }
}
