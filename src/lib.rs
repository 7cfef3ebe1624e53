//! Hashgate's demo app: a Leptos single-page app that signs in with [`hashgate_auth`] (OpenID
//! Connect, implicit grant or authorization code flow with PKCE) and calls an API.
//!
//! - [`app`] is the shell: `<AuthProvider>` around the header and the routes.
//! - [`api`] is the demo API's typed client (the library attaches the token).
//! - [`pages`] has one page per route; [`routes`] names every path in one place;
//!   [`components`] holds the small shared pieces; [`display`] the inspector's helpers.

#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod components;
pub mod display;
pub mod pages;
pub mod routes;

pub use app::App;
