//! Login for the SPA: OpenID Connect with the implicit grant (the default) or the authorization
//! code flow with PKCE (`"responseType": "code"` in `auth_config.json`), validated in full.
//!
//! Keep this module whole when you fork Hashgate. What it guarantees:
//! - Tokens are accepted only after every check of OpenID Connect Core §3.2.2 (implicit) or
//!   §3.1.3 (code): `state` matches a pending, single-use transaction; in the code flow the `iss`
//!   parameter names the issuer (RFC 9207) and the code is redeemed with this tab's PKCE verifier
//!   (RFC 7636); the ID token's RS256 signature verifies against the provider's JWKS (never
//!   `alg: none`, never HS*, never a key named by the token itself); `iss`, `aud`/`azp`, `exp`,
//!   `iat`, `sub`, `nonce` and `at_hash` are checked. The pure checks live in
//!   [`hashgate_protocol`]; this module is the browser shell around them.
//! - The authorization response is removed from the address bar and history before anything else;
//!   a response by the other flow's transport (tokens in a query, a response in the fragment to a
//!   code-flow login) is refused.
//! - A rejected access token is dropped: it is never stored and never sent anywhere.
//! - Renewal never switches users: an answer for another `sub` signs out every tab. Refresh tokens
//!   (`useRefreshTokens`) are redeemed one tab at a time (Web Locks), replaced at once when
//!   rotated, and revoked at logout.
//! - Tokens are kept in memory unless `cacheLocation` says otherwise, and never logged.
//!
//! Use it like this:
//! ```text
//! view! { <Router><AuthProvider> /* your routes */ </AuthProvider></Router> }
//! // anywhere below:
//! let auth = use_auth();
//! auth.login(LoginOptions::default());
//! let token = auth.access_token().await?;
//! ```
//! Protect a route's view with [`Protected`]: a signed-out visitor is sent to log in and comes back
//! to the same path.

mod browser;
mod context;
mod error;
mod guard;
mod json;
mod provider;
mod session;
mod silent;
mod storage;
mod token;
mod validate;

pub use browser::{
    fetch, json_entries, now_secs, parse_json, parse_json_value, pretty_json, to_json, HttpRequest,
    HttpResponse,
};
pub use context::{try_use_auth, use_auth, AuthContext, AuthState, AuthStatus, LoginOptions};
pub use error::AuthError;
pub use guard::Protected;
pub use provider::AuthProvider;
pub use session::{flow_label, Session, User};
