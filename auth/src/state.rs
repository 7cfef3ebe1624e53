//! The sign-in state as pages render it, and the messages the app's tabs send each other.

use crate::error::AuthError;
use crate::session::Session;

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

impl AuthState {
    /// The state without its data.
    pub fn status(&self) -> AuthStatus {
        match self {
            AuthState::Loading => AuthStatus::Loading,
            AuthState::Anonymous => AuthStatus::Anonymous,
            AuthState::Authenticated(_) => AuthStatus::Authenticated,
            AuthState::Error(_) => AuthStatus::Error,
        }
    }
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

/// Name of the `BroadcastChannel` on which the app's tabs tell each other about sign-outs.
pub const CHANNEL: &str = "hashgate.auth";

/// What one tab tells the others on [`CHANNEL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TabMessage {
    /// The user logged out.
    Logout,
    /// A renewal found another user at the provider.
    UserChanged,
    /// The provider refused the refresh token (`invalid_grant`).
    SessionEnded,
}

impl TabMessage {
    /// The message as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            TabMessage::Logout => "logout",
            TabMessage::UserChanged => "user-changed",
            TabMessage::SessionEnded => "session-ended",
        }
    }

    /// A message as received; `None` for anything else (ignored).
    pub fn parse(text: &str) -> Option<Self> {
        [
            TabMessage::Logout,
            TabMessage::UserChanged,
            TabMessage::SessionEnded,
        ]
        .into_iter()
        .find(|m| m.as_str() == text)
    }

    /// The state a tab that hears this message is left in.
    pub fn signed_out_state(self) -> AuthState {
        match self {
            TabMessage::Logout => AuthState::Anonymous,
            TabMessage::UserChanged => AuthState::Error(AuthError::UserChanged),
            TabMessage::SessionEnded => AuthState::Error(AuthError::RefreshRefused),
        }
    }
}
