//! Everything that can go wrong while signing in, as sentences a user can act on.

use hashgate_protocol::dpop_client::DpopClientError;
use hashgate_protocol::{
    ConfigError, DiscoveryError, FragmentError, JwtError, KeySelectError, TransactionError,
    ValidationError,
};

/// Why signing in (or staying signed in) failed. Every `Display` is a sentence for the user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// `auth_config.json` has a missing or invalid field, or is not JSON.
    #[error("the app's sign-in settings are broken: {0}")]
    Config(#[from] ConfigError),
    /// `auth_config.json` could not be fetched.
    #[error("the app's sign-in settings are broken: {0}")]
    ConfigFile(Box<AuthError>),
    /// The provider answered HTTP 5xx: it cannot answer now, and may later.
    #[error("the {what} is not answering right now (HTTP {status}); try again in a moment")]
    ServerBusy {
        /// Which endpoint.
        what: &'static str,
        /// The HTTP status.
        status: u16,
    },
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
    Discovery(#[from] DiscoveryError),
    /// The URL fragment is not a well-formed authorization response.
    #[error("the sign-in response is malformed: {0}")]
    Fragment(#[from] FragmentError),
    /// No pending login matches the response (unsolicited, replayed or expired).
    #[error(
        "this sign-in response was not started here or was already used ({0}); please log in again"
    )]
    Transaction(#[from] TransactionError),
    /// The ID token is not a well-formed JWT.
    #[error("the ID token is malformed: {0}")]
    Jwt(#[from] JwtError),
    /// The ID token's header or claims are not the JSON they must be.
    #[error("the ID token is malformed: {0}")]
    TokenJson(String),
    /// No key in the provider's JWKS can check the signature.
    #[error("the ID token's signing key is unknown: {0}")]
    Key(#[from] KeySelectError),
    /// A key in the JWKS could not be imported into WebCrypto.
    #[error("the identity provider's signing key could not be used")]
    UnusableKey,
    /// The ID token's signature does not verify.
    #[error("the ID token's signature is invalid; the response may have been tampered with")]
    BadSignature,
    /// A header, claim or response check failed.
    #[error("the ID token was refused: {0}")]
    Validation(#[from] ValidationError),
    /// Authorization-response parameters (tokens, a code or an error) arrived in the query
    /// string; they were removed from the address bar and never used.
    #[error("the sign-in response arrived in the query string, where this app never accepts tokens; it was refused and removed from the address bar")]
    ResponseInQuery,
    /// The response came by a flow the app is not set up for: a code to an implicit login, or
    /// a response in the fragment to a code-flow login (RFC 6749 §4.1.2, §4.2.2).
    #[error("the sign-in response was refused: {0}")]
    WrongFlow(&'static str),
    /// The provider refused the refresh token (`invalid_grant`: revoked, expired, or reused in
    /// another tab); the app signed out in every tab.
    #[error("your session has ended at the identity provider (it refused to renew it), so you were signed out; log in again to continue")]
    RefreshRefused,
    /// The response lacks something the configured flow requires.
    #[error("the sign-in response is incomplete: {0}")]
    Incomplete(&'static str),
    /// The response does not carry what the configured `responseType` asked for, or names
    /// another issuer (RFC 9207).
    #[error("{0}; it was refused")]
    Response(ValidationError),
    /// The provider answered with an OAuth 2.0 error.
    #[error("{message}")]
    Provider {
        /// The `error` code, e.g. `access_denied`.
        code: String,
        /// A sentence for the user, with the provider's description when it gave one.
        message: String,
    },
    /// A renewal came back for another user than the one signed in here (OIDC Core §2: `sub`
    /// names the user); the app signed out rather than switch users under the page.
    #[error("you were signed out because the identity provider now has a different user signed in (in another tab or on this computer); log in again to continue")]
    UserChanged,
    /// A renewal came back for the same user but not for this session (another `aud`, `azp`,
    /// `auth_time` or `nonce`, OIDC Core §12.2); nothing of it was stored.
    #[error("you were signed out because the identity provider's renewed sign-in did not match this session; log in again to continue")]
    OtherSession,
    /// There is no signed-in session (or it expired).
    #[error("you are not signed in")]
    LoginRequired,
    /// A silent sign-in got no answer in time.
    #[error(
        "the identity provider did not answer the silent sign-in in time; please log in again"
    )]
    Timeout,
    /// A DPoP proof could not be made for a request (RFC 9449 §4.2).
    #[error("a DPoP proof could not be made: {0}")]
    Dpop(#[from] DpopClientError),
    /// Stored tokens are bound to a DPoP key this browser no longer has (or to none, or the
    /// app's `useDpop` changed): they cannot be used, and the user logs in again.
    #[error("the stored sign-in was bound to another key of this browser; please log in again")]
    DpopKeyChanged,
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

    /// True for the token endpoint's `invalid_grant` (RFC 6749 §5.2).
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, AuthError::Provider { code, .. } if code == "invalid_grant")
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
