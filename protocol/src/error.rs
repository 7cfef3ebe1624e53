//! Errors of the protocol crate: one enum per kind of input, each variant one failed check.
//!
//! Every message is a short, lowercase sentence a user can read (the SPA shows it as escaped
//! text in a `role="alert"` element). Messages never contain token or nonce values.

use thiserror::Error;

/// A check on an ID token (header, signature, claims) or on the token response failed.
///
/// One variant per check, so the SPA and its tests can tell exactly which one failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The JOSE header says `alg: none` (in any letter case): the token is unsigned.
    #[error("the sign-in token is not signed (alg none)")]
    AlgNone,
    /// The JOSE header names an HMAC algorithm (`HS*`), which a public client can never verify
    /// safely: the "secret" would be the public key.
    #[error(
        "the sign-in token uses a shared-secret algorithm ({alg}) that this app never accepts"
    )]
    SymmetricAlgorithm {
        /// The algorithm the header named (truncated).
        alg: String,
    },
    /// The JOSE header names an algorithm outside the allow-list.
    #[error("the sign-in token uses an algorithm this app does not accept ({alg})")]
    DisallowedAlgorithm {
        /// The algorithm the header named (truncated).
        alg: String,
    },
    /// The JOSE header carries a parameter that would let the token pick its own key
    /// (`jku`, `x5u`, `jwk`, `x5c`) or demand extensions (`crit`).
    #[error("the sign-in token carries a \"{name}\" header, which this app never trusts")]
    ForbiddenHeader {
        /// The header parameter's name.
        name: &'static str,
    },
    /// `iss` is not exactly the configured issuer (OIDC Core 3.1.3.7 step 2).
    #[error("the sign-in response came from an unexpected identity provider (issuer)")]
    Issuer,
    /// `aud` does not contain this app's client id (OIDC Core 3.1.3.7 step 3).
    #[error("the sign-in response was not meant for this app (audience)")]
    Audience,
    /// `aud` lists a party besides this app that is not in the trusted list
    /// (OIDC Core 3.1.3.7 step 3).
    #[error("the sign-in token is also meant for a party this app does not trust (audience)")]
    UntrustedAudience,
    /// `aud` has several values but `azp` is missing (OIDC Core 3.1.3.7 step 4).
    #[error("the sign-in token has several audiences but no authorized party (azp)")]
    MissingAuthorizedParty,
    /// `azp` is present and is not this app's client id (OIDC Core 3.1.3.7 step 5).
    #[error("the sign-in token was issued to another app (azp)")]
    AuthorizedParty,
    /// `exp` is in the past, beyond the leeway (OIDC Core 3.1.3.7 step 9).
    #[error("the sign-in token has expired; check this device's clock and sign in again")]
    Expired,
    /// `iat` is in the future, beyond the leeway (OIDC Core 3.1.3.7 step 10).
    #[error("the sign-in token was issued in the future; check this device's clock (iat)")]
    IssuedInFuture,
    /// `iat` is older than the accepted age (OIDC Core 3.1.3.7 step 10).
    #[error("the sign-in token is too old; please sign in again (iat)")]
    IssuedTooLongAgo,
    /// `sub` is missing or empty (OIDC Core 2: `sub` is required).
    #[error("the sign-in token does not say who signed in (sub)")]
    MissingSubject,
    /// `nonce` is missing although this app sent one (OIDC Core 3.2.2.11).
    #[error("the sign-in token lacks the nonce this app sent")]
    MissingNonce,
    /// `nonce` differs from the one this app sent (OIDC Core 3.2.2.11).
    #[error("the sign-in token does not belong to this sign-in attempt (nonce)")]
    NonceMismatch,
    /// An access token came back but the ID token has no `at_hash` (OIDC Core 3.2.2.10).
    #[error("the sign-in token does not vouch for the access token (at_hash missing)")]
    MissingAtHash,
    /// `at_hash` does not match the access token (OIDC Core 3.2.2.9).
    #[error("the access token does not match the sign-in token (at_hash)")]
    AtHashMismatch,
    /// `token_type` is missing or not `Bearer` although an access token came back
    /// (RFC 6749 4.2.2).
    #[error("the access token is not a bearer token (token_type)")]
    TokenType,
    /// The app sent a DPoP proof but the provider answered `token_type: Bearer` (RFC 9449 §5):
    /// the token is not bound to the browser's key, so the app does not use it.
    #[error(
        "the provider answered a DPoP request with a bearer token, which is not bound to this \
         browser's key (check that DPoP is on for this client at the provider)"
    )]
    NotDpopBound,
    /// The response has no ID token although the request asked for one.
    #[error("the sign-in response has no ID token")]
    MissingIdToken,
    /// The response has no access token although the request asked for one.
    #[error("the sign-in response has no access token")]
    MissingAccessToken,
    /// The provider advertises the `iss` response parameter but the response lacks it
    /// (RFC 9207 §2.4).
    #[error("the sign-in response does not say which identity provider sent it (iss)")]
    MissingIssParameter,
    /// The response's `iss` parameter is not the configured issuer (RFC 9207 §2.4): a
    /// response of another provider, mixed up with ours.
    #[error("the sign-in response came from another identity provider (iss)")]
    IssParameterMismatch,
}

/// The URL fragment of an authorization response could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FragmentError {
    /// The fragment is empty.
    #[error("the sign-in response is empty")]
    Empty,
    /// The fragment is larger than [`crate::fragment::MAX_FRAGMENT_LEN`].
    #[error("the sign-in response is too large")]
    TooLarge,
    /// A parameter appears more than once (RFC 6749 3.1).
    #[error("the sign-in response repeats the parameter \"{name}\"")]
    DuplicateParameter {
        /// The repeated parameter's name (truncated).
        name: String,
    },
    /// A `%` is not followed by two hex digits.
    #[error("the sign-in response has invalid percent-encoding")]
    InvalidPercentEncoding,
    /// A decoded parameter is not UTF-8.
    #[error("the sign-in response is not valid UTF-8")]
    InvalidUtf8,
    /// `expires_in` is not a non-negative integer.
    #[error("the sign-in response has an invalid expires_in")]
    InvalidExpiresIn,
    /// A parameter that must carry a value is empty.
    #[error("the sign-in response has an empty \"{name}\"")]
    EmptyParameter {
        /// The parameter's name.
        name: &'static str,
    },
    /// The fragment has neither `error` nor any token.
    #[error("the sign-in response has neither tokens nor an error")]
    NoTokens,
    /// The response carries a code and tokens together (a hybrid flow this app never asks for).
    #[error("the sign-in response mixes an authorization code with tokens")]
    MixedResponse,
}

/// A JWT could not be split into its three decoded parts.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The token is larger than [`crate::jwt::MAX_TOKEN_LEN`].
    #[error("the token is too large")]
    TooLarge,
    /// The token does not have exactly three dot-separated segments.
    #[error("the token does not have three parts")]
    WrongSegmentCount,
    /// A segment is empty (an unsigned token has an empty signature).
    #[error("the token's {segment} is empty")]
    EmptySegment {
        /// `header`, `payload` or `signature`.
        segment: &'static str,
    },
    /// A segment is not unpadded base64url.
    #[error("the token's {segment} is not base64url")]
    InvalidBase64 {
        /// `header`, `payload` or `signature`.
        segment: &'static str,
    },
}

/// A state from the authorization response does not match a pending login.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TransactionError {
    /// No pending login has this state: an unsolicited, replayed or forged response.
    #[error("the sign-in response does not match a sign-in started here (state)")]
    UnknownState,
    /// The pending login is older than the allowed age; it has been removed.
    #[error("the sign-in took too long; please sign in again")]
    Expired,
}

/// `auth_config.json` is missing a field or has an invalid one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required field is absent or empty.
    #[error("auth_config.json: \"{field}\" is missing")]
    Missing {
        /// The field's JSON name (camelCase).
        field: &'static str,
    },
    /// A field has a value that cannot be used.
    #[error("auth_config.json: \"{field}\" is invalid: {reason}")]
    Invalid {
        /// The field's JSON name (camelCase).
        field: &'static str,
        /// Why, in a few words.
        reason: &'static str,
    },
}

/// The provider's discovery document cannot be trusted or used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The document's `issuer` is not exactly the configured issuer (OIDC Discovery 4.3).
    // Quoted by hand, not with `{:?}`: `str`'s Debug (its escaping tables) would be linked into
    // the SPA for this one message. The SPA shows it as escaped text.
    #[error("the identity provider says its issuer is \"{found}\", but the app is configured for \"{expected}\"")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The issuer in the document (truncated).
        found: String,
    },
    /// An endpoint is not an absolute `https` URL (`http` only on loopback hosts).
    #[error("the identity provider's {field} is not a usable https URL")]
    InvalidEndpoint {
        /// The document field's name.
        field: &'static str,
    },
    /// An endpoint the configured flow needs is not in the document.
    #[error("the identity provider has no {field}, which the authorization code flow needs")]
    MissingEndpoint {
        /// The document field's name.
        field: &'static str,
    },
    /// The provider lists PKCE methods and `S256` is not among them (RFC 7636 §4.2).
    #[error("the identity provider does not support PKCE with S256")]
    NoPkceS256,
}

/// No key of the JWKS can verify the token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeySelectError {
    /// The token names a `kid` that the key set does not have; refetch the set once
    /// (the provider may have rotated its keys), then fail.
    #[error(
        "the sign-in token was signed with a key the identity provider does not publish (kid)"
    )]
    UnknownKid {
        /// The `kid` the token named (truncated).
        kid: String,
    },
    /// Several keys could match and the token does not say which one (no `kid`), or the
    /// set lists the same `kid` twice.
    #[error("the identity provider publishes several keys and the sign-in token does not say which one signed it")]
    AmbiguousKey,
    /// The key set has no usable RSA signing key.
    #[error("the identity provider publishes no usable signing key")]
    NoKeys,
}

/// A sentence for an OAuth 2.0 / OpenID Connect `error` code (RFC 6749 4.2.2.1,
/// OIDC Core 3.1.2.6), for showing next to the provider's own `error_description`.
pub fn describe_oauth_error(code: &str) -> &'static str {
    match code {
        "access_denied" => "Sign-in was cancelled or permission was refused.",
        "login_required" => "You need to sign in again.",
        "consent_required" => "The app needs your permission; sign in to grant it.",
        "interaction_required" => "The identity provider needs you to sign in interactively.",
        "account_selection_required" => "Choose an account to sign in with.",
        "unauthorized" => "You are not allowed to sign in to this app.",
        "invalid_request" => "The sign-in request was invalid; the app may be misconfigured.",
        "unauthorized_client" => "This app is not allowed to sign in this way; check its configuration at the identity provider.",
        "unsupported_response_type" => "The identity provider does not support this app's sign-in method.",
        "invalid_scope" => "The app asked for permissions the identity provider does not know.",
        "invalid_grant" => "The identity provider no longer accepts this sign-in; please log in again.",
        "invalid_client" => "The identity provider does not know this app; check its client id.",
        "unsupported_grant_type" => "The identity provider does not allow this app's sign-in method; check the app's grant types there.",
        "server_error" => "The identity provider had an internal error; try again later.",
        "temporarily_unavailable" => "The identity provider is temporarily unavailable; try again later.",
        _ => "Sign-in failed at the identity provider.",
    }
}

/// Cuts a value from untrusted input to a length that is safe to keep in an error.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
