//! Login for the SPA: OAuth 2.0 implicit grant with OpenID Connect, validated in full.
//!
//! Keep this module whole when you fork Hashgate. What it guarantees:
//! - Tokens are accepted only after every check of OpenID Connect Core §3.2.2: `state` matches a
//!   pending, single-use transaction; the ID token's RS256 signature verifies against the provider's
//!   JWKS (never `alg: none`, never HS*, never a key named by the token itself); `iss`, `aud`/`azp`,
//!   `exp`, `iat`, `sub`, `nonce` and `at_hash` are checked. The pure checks live in
//!   [`hashgate_protocol`]; this module is the browser shell around them.
//! - The authorization response is removed from the address bar and history before anything else.
//! - A rejected access token is dropped: it is never stored and never sent anywhere.
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
mod provider;
mod session;
mod silent;
mod storage;
mod validate;

pub use browser::{json_entries, now_secs, parse_json, pretty_json, to_json};
pub use context::{try_use_auth, use_auth, AuthContext, AuthState, AuthStatus, LoginOptions};
pub use error::AuthError;
pub use guard::Protected;
pub use provider::AuthProvider;
pub use session::{Session, User};
