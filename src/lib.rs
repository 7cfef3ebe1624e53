//! Hashgate: a Leptos single-page app with OpenID Connect login (implicit grant or authorization
//! code flow with PKCE).
//!
//! - [`auth`] is the login module a forker keeps whole: `<AuthProvider>`, [`auth::use_auth`],
//!   the `/callback` handler and the route guard.
//! - [`api`] is the one typed client that adds `Authorization: Bearer` to API calls.
//! - [`pages`] has one page per route; [`routes`] names every path in one place.

#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod auth;
pub mod components;
pub mod pages;
pub mod routes;

pub use app::App;
