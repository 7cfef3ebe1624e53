//! Every route path of the app, in one place (`docs/contract.md §2`).

use leptos_router::StaticSegment;

/// The home page: what Hashgate is, and a `Log in` button.
pub const HOME: &str = "/";
/// The signed-in user's claims and a token inspector (protected).
pub const PROFILE: &str = "/profile";
/// Calls the demo API with the access token (protected).
pub const EXTERNAL_API: &str = "/external-api";
/// Where the provider sends the authorization response (`redirectPath` in `auth_config.json`; the
/// auth module handles the response on whatever path is configured, this page shows progress).
pub const CALLBACK: &str = "/callback";

/// The router's segment for one of the paths above (each is a single static segment).
pub fn segment(path: &'static str) -> StaticSegment<&'static str> {
    StaticSegment(path.trim_start_matches('/'))
}
