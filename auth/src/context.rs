//! The auth context: the reactive sign-in state and the `Copy` handle pages hold. What it does
//! lives beside it: [`crate::login`] (login and logout) and [`crate::renewal`] (renewal, the
//! cross-tab rules, restoring a stored session).

use futures::future::{LocalBoxFuture, Shared};
use hashgate_protocol::AuthConfig;
use leptos::prelude::*;

use crate::error::AuthError;
use crate::session::{Session, User};
use crate::setup::SetupCache;
use crate::state::{AuthState, AuthStatus};

/// A renewal in flight, shared by every caller that needs a fresh token meanwhile.
pub(crate) type Renewal = Shared<LocalBoxFuture<'static, Result<Session, AuthError>>>;

/// Handle to the sign-in state; `Copy`, so closures can capture it freely.
#[derive(Clone, Copy)]
pub struct AuthContext {
    pub(crate) state: RwSignal<AuthState>,
    /// The status alone: changes only when the kind of state does, so a renewed session (one
    /// signed-in state replacing another) does not rebuild the pages that depend on it.
    status: Memo<AuthStatus>,
    /// Config, discovery and keys, loaded once.
    pub(crate) setup: SetupCache,
    /// The renewal in flight.
    pub(crate) renewal: StoredValue<Option<Renewal>, LocalStorage>,
    /// The one scheduled renewal timer.
    pub(crate) timer: StoredValue<Option<TimeoutHandle>>,
    /// Renewals in a row that failed for a passing reason (for the back-off).
    pub(crate) failures: StoredValue<u32>,
    /// Set while the page is leaving for the provider's logout, so that nothing (such as a route
    /// guard seeing "anonymous") starts a login in between.
    pub(crate) leaving: StoredValue<bool>,
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
            status: Memo::new(move |_| state.with(AuthState::status)),
            setup: SetupCache::new(),
            renewal: StoredValue::new_local(None),
            timer: StoredValue::new(None),
            failures: StoredValue::new(0),
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
        self.setup.config()
    }

    pub(crate) fn session_untracked(&self) -> Option<Session> {
        self.state.with_untracked(|s| match s {
            AuthState::Authenticated(session) => Some(session.as_ref().clone()),
            _ => None,
        })
    }

    pub(crate) fn is_authenticated_untracked(&self) -> bool {
        self.state
            .with_untracked(|s| matches!(s, AuthState::Authenticated(_)))
    }

    /// True once the user signed out (here, in another tab, or by leaving for the provider's
    /// logout): a renewal that finishes later is dropped (and its refresh token revoked).
    pub(crate) fn signed_out_meanwhile(&self) -> bool {
        self.leaving.get_value()
            || self
                .state
                .with_untracked(|s| matches!(s, AuthState::Anonymous | AuthState::Error(_)))
    }
}
