//! `hashgate-auth`: OpenID Connect login for Leptos single-page apps — the implicit grant (the
//! default) or the authorization code flow with PKCE and rotating refresh tokens
//! (`"responseType": "code"` in `auth_config.json`), validated in full in the browser.
//!
//! ```text
//! view! { <Router><AuthProvider> /* your routes */ </AuthProvider></Router> }
//! // anywhere below:
//! let auth = use_auth();
//! auth.login(LoginOptions::default());
//! let answer = auth.call_api(ApiRequest::get("https://api.example.com/private")).await?;
//! ```
//! Protect a route's view with [`Protected`]: a signed-out visitor is sent to log in and comes
//! back to the same path. The README of this crate shows a whole app.
//!
//! # What it guarantees
//! - Tokens are accepted only after every check of OpenID Connect Core §3.2.2 (implicit) or
//!   §3.1.3 (code): `state` matches a pending, single-use transaction; in the code flow the `iss`
//!   parameter names the issuer (RFC 9207) and the code is redeemed with this tab's PKCE verifier
//!   (RFC 7636); the ID token's RS256 signature verifies against the provider's JWKS (never
//!   `alg: none`, never HS*, never a key named by the token itself); `iss`, `aud`/`azp`, `exp`,
//!   `iat`, `sub`, `nonce` and `at_hash` are checked. The pure checks live in
//!   [`hashgate_protocol`]; this crate is the browser shell around them.
//! - The authorization response is removed from the address bar and history before anything
//!   else; a response by the other flow's transport is refused.
//! - A rejected access token is dropped: it is never stored and never sent anywhere.
//! - Renewal never switches users or sessions, never presents a spent refresh token, survives a
//!   provider that hiccups, and never renews more often than every five seconds; every sign-out
//!   revokes the refresh tokens the browser holds.
//! - Tokens are kept in memory unless `cacheLocation` says otherwise, and never logged.
//!
//! # Map
//! Modules import one way, top to bottom of this list; none imports the app that uses it.
//!
//! | module | what it holds |
//! |---|---|
//! | `provider` | [`AuthProvider`]: boots the state, takes the authorization response out of the address bar and completes it on the callback path, restores a stored session, listens to the other tabs |
//! | [`guard`] | [`Protected`], the route guard |
//! | `client` | [`AuthContext::call_api`]: the one place an access token is attached to a request |
//! | `login` | [`AuthContext::login`], [`AuthContext::logout`] (revokes every refresh token held, then the provider's logout) |
//! | `renewal` | [`AuthContext::access_token`], [`AuthContext::renew`]: refresh under the cross-tab lock or the `prompt=none` iframe, restoring stored sessions, signing out |
//! | `context` | [`AuthContext`] and its reactive state; [`use_auth`], [`try_use_auth`] |
//! | `silent` | the hidden `prompt=none` iframe (`web_message` or `/silent-callback.html`) |
//! | `token` | the token endpoint: code redemption, refresh (compared with the session before it is kept), revocation; every request with a timeout |
//! | `dpop` | with `useDpop`: the browser's non-extractable key (IndexedDB), the proof for each token-endpoint and API request, the servers' nonces (RFC 9449) |
//! | `validate` | the one validation path for every token (OIDC Core §3.2.2.9–11), and the provider's key cache |
//! | `setup` | `auth_config.json`, discovery and the key cache, loaded once and passed as one handle |
//! | `spent` | the record of spent refresh tokens (their SHA-256) shared by every tab |
//! | `storage` | what is kept between page loads: pending logins in `sessionStorage`; tokens in memory (`cacheLocation: memory`, the default), `sessionStorage` (`session`) or `localStorage` (`local`) |
//! | [`decide`] | every decision as a pure function, tested natively: when to renew, what a failure does, same session or not, what the guard shows |
//! | [`state`] | [`AuthState`], [`AuthStatus`] and the messages between tabs |
//! | [`session`] | [`Session`] and [`User`]: validated tokens and what a page may show of them |
//! | [`error`] | [`AuthError`]: every failure as a sentence |
//! | [`json`] | JSON through the browser's own `JSON.parse` into [`hashgate_protocol::FromJson`] types |
//! | `browser` | the thin browser shell: `http` (the one `fetch`), `lock` (Web Locks, or a `localStorage` lease extended while its holder works), `web_storage`, `key_store` (the DPoP key pair in IndexedDB), `crypto` (WebCrypto), `page` (address, history, timers, tabs, `sendBeacon`) |

#![warn(missing_docs)]

mod browser;
mod client;
mod context;
pub mod decide;
mod dpop;
pub mod error;
pub mod guard;
pub mod json;
mod login;
mod provider;
mod renewal;
pub mod session;
mod setup;
mod silent;
mod spent;
pub mod state;
mod storage;
mod token;
mod validate;

pub use client::{ApiAnswer, ApiRequest, CallError};
pub use context::{try_use_auth, use_auth, AuthContext};
pub use error::AuthError;
pub use guard::Protected;
pub use hashgate_protocol as protocol;
pub use login::LoginOptions;
pub use provider::AuthProvider;
pub use session::{Session, User};
pub use setup::CONFIG_PATH;
pub use state::{AuthState, AuthStatus};

/// User Timing names the login sets, for performance tools and benchmarks (`cargo xtask bench`
/// reads them beside Navigation and Resource Timing). In the order a page load reaches them:
/// [`START_MARK`](timing::START_MARK) (the module runs), [`CONFIG_MARK`](timing::CONFIG_MARK),
/// [`DISCOVERY_MARK`](timing::DISCOVERY_MARK), [`JWKS_MARK`](timing::JWKS_MARK) (each loaded and
/// checked), [`AUTHORIZE_MARK`](timing::AUTHORIZE_MARK) (a silent attempt's iframe sent),
/// [`CALLBACK_START_MARK`](timing::CALLBACK_START_MARK) (an authorization response arrived) and
/// the measure [`CALLBACK_MEASURE`](timing::CALLBACK_MEASURE) from there to the validated session.
/// Each is set on every occurrence; a reader takes the last.
pub mod timing {
    pub use crate::browser::{
        AUTHORIZE_MARK, CALLBACK_MEASURE, CALLBACK_START_MARK, CONFIG_MARK, DISCOVERY_MARK,
        JWKS_MARK, START_MARK,
    };
}
