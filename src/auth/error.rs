//! Everything that can go wrong while signing in, as sentences a user can act on.

use hashgate_protocol::{
    ConfigError, DiscoveryError, FragmentError, JwtError, KeySelectError, TransactionError,
    ValidationError,
};

/// Keeps the protocol errors' sentences (the protocol types need not be `Clone`).
macro_rules! from_protocol {
    ($($source:ty => $variant:ident),* $(,)?) => {$(
        impl From<$source> for AuthError {
            fn from(e: $source) -> Self {
                AuthError::$variant(e.to_string())
            }
        }
    )*};
}

from_protocol! {
    ConfigError => Config,
    DiscoveryError => Discovery,
    FragmentError => Fragment,
    TransactionError => Transaction,
    JwtError => Jwt,
    KeySelectError => Key,
    ValidationError => Validation,
}

/// Why signing in (or staying signed in) failed. Every `Display` is a sentence for the user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// `auth_config.json` is missing, unreadable or invalid.
    #[error("the app's sign-in settings are broken: {0}")]
    Config(String),
    /// A document could not be fetched at all (network down, CORS, wrong URL).
    #[error("could not reach the {what} at {url}; check that the identity provider is running and try again")]
    Unreachable {
        /// Which document ("identity provider's discovery document", …).
        what: &'static str,
        /// Where we looked.
        url: String,
    },
    /// A document was fetched but is not what it must be.
    #[error("the {what} is not usable: {reason}")]
    BadDocument {
        /// Which document.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The discovery document failed its checks (e.g. a different `issuer`).
    #[error("the identity provider's configuration was refused: {0}")]
    Discovery(String),
    /// The URL fragment is not a well-formed authorization response.
    #[error("the sign-in response is malformed: {0}")]
    Fragment(String),
    /// No pending login matches the response (unsolicited, replayed or expired).
    #[error(
        "this sign-in response was not started here or was already used ({0}); please log in again"
    )]
    Transaction(String),
    /// The ID token is not a well-formed JWT or uses a forbidden header.
    #[error("the ID token is malformed: {0}")]
    Jwt(String),
    /// No key in the provider's JWKS can check the signature.
    #[error("the ID token's signing key is unknown: {0}")]
    Key(String),
    /// A key in the JWKS could not be imported into WebCrypto.
    #[error("the identity provider's signing key could not be used")]
    UnusableKey,
    /// The ID token's signature does not verify.
    #[error("the ID token's signature is invalid; the response may have been tampered with")]
    BadSignature,
    /// A claim check failed.
    #[error("the ID token was refused: {0}")]
    Validation(String),
    /// The response lacks something the configured flow requires.
    #[error("the sign-in response is incomplete: {0}")]
    Incomplete(&'static str),
    /// The provider answered with an OAuth 2.0 error.
    #[error("{message}")]
    Provider {
        /// The `error` code, e.g. `access_denied`.
        code: String,
        /// A sentence for the user, with the provider's description when it gave one.
        message: String,
    },
    /// There is no signed-in session (or it expired).
    #[error("you are not signed in")]
    LoginRequired,
    /// A silent sign-in got no answer in time.
    #[error(
        "the identity provider did not answer the silent sign-in in time; please log in again"
    )]
    Timeout,
    /// A browser capability is missing.
    #[error("your browser could not complete sign-in: {0}")]
    Browser(&'static str),
}

impl AuthError {
    /// True for the answers of `prompt=none` that mean "the user must interact": the normal way a
    /// silent sign-in ends when the provider has no session for this user.
    pub fn needs_interaction(&self) -> bool {
        matches!(self, AuthError::Provider { code, .. }
            if matches!(code.as_str(), "login_required" | "consent_required" | "interaction_required"))
    }

    /// Builds the error for an OAuth 2.0 error response; the provider's description is shown as text.
    pub fn provider(code: &str, description: Option<&str>) -> Self {
        let mut message = hashgate_protocol::describe_oauth_error(code).to_string();
        if let Some(d) = description.map(str::trim).filter(|d| !d.is_empty()) {
            let d: String = d.chars().filter(|c| !c.is_control()).take(300).collect();
            message.push_str(" The identity provider said: “");
            message.push_str(&d);
            message.push('”');
        }
        AuthError::Provider {
            code: code.to_string(),
            message,
        }
    }
}
