//! The crate's one error type: what stops the server from starting or a command from
//! finishing, and what ends a request with an error page.
//!
//! As a response ([`IntoResponse`]) every variant is an HTML error page. Internal
//! failures (storage, keys, signing, a failed task) are logged and shown only as "the
//! identity provider hit an internal error"; the page never carries their details.
//! Errors the *app* must hear about (RFC 6749 §4.2.2.1, `server_error` included) are not
//! errors here: handlers deliver them to the redirect URI as protocol answers.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::config::ConfigError;
use crate::pages::ErrorPage;
use crate::rules::RuleError;
use crate::store::StoreError;

/// Result alias for this crate.
pub type Result<T, E = IdpError> = std::result::Result<T, E>;

/// Why the identity provider could not start, finish a command or answer a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdpError {
    /// The configuration file is missing, unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A rule could not be read or does not compile.
    #[error(transparent)]
    Rules(#[from] RuleError),
    /// The issuer URL is not an absolute http(s) URL.
    #[error("invalid issuer url {issuer:?}: {reason}")]
    Issuer {
        /// The issuer as given.
        issuer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database failed (or the data directory could not be created).
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// Data the provider wrote itself could not be read back.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// A signing key could not be generated, parsed or used.
    #[error("signing key error: {0}")]
    Key(String),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Password(String),
    /// A token could not be signed.
    #[error("token signing failed: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
    /// The listener or server failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    /// No page at this address: 404.
    #[error("not found")]
    NotFound,
    /// The pending login named by the page is unknown, used or expired: 400.
    #[error("the login has expired or was already used")]
    LoginExpired,
    /// A form post that did not come from this provider's own page with its CSRF
    /// token (cross-site, missing or stale token, unreadable form): 403.
    #[error("form post refused")]
    FormRefused,
    /// A request refused with an explanation for the user (a bad `client_id` or
    /// `redirect_uri`, an oversized request, ...), never sent back to the app.
    #[error("{heading}: {message}")]
    Refused {
        /// HTTP status.
        status: StatusCode,
        /// Page heading.
        heading: &'static str,
        /// The explanation (escaped when rendered).
        message: String,
    },
}

impl IdpError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::LoginExpired => StatusCode::BAD_REQUEST,
            Self::FormRefused => StatusCode::FORBIDDEN,
            Self::Refused { status, .. } => *status,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The page shown for this error: a heading and a sentence the user can act on.
    fn page(&self) -> ErrorPage {
        let (heading, message): (&'static str, Cow<'static, str>) = match self {
            Self::NotFound => ("Not found", "There is no page at this address.".into()),
            Self::LoginExpired => (
                "This login has expired",
                "This login link has expired or was already used. Go back to the application \
                 and log in again."
                    .into(),
            ),
            Self::FormRefused => (
                "Request refused",
                "This form was not sent from this sign-in page, or its security token is missing \
                 or stale (are cookies enabled?). Go back to the application and log in again."
                    .into(),
            ),
            Self::Refused {
                heading, message, ..
            } => (heading, message.clone().into()),
            _ => (
                "Something went wrong",
                "The identity provider hit an internal error. Try again in a moment.".into(),
            ),
        };
        ErrorPage {
            heading: heading.into(),
            message,
        }
    }
}

impl IntoResponse for IdpError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "internal error");
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            tracing::warn!(error = %self, "request refused");
        }
        let mut res = status.into_response();
        res.extensions_mut().insert(self.page());
        res
    }
}
