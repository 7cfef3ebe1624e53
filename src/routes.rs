//! Every route path of the app, in one place.

/// The home page: what Hashgate is, and a `Log in` button.
pub const HOME: &str = "/";
/// The signed-in user's claims and a token inspector (protected).
pub const PROFILE: &str = "/profile";
/// Calls the demo API with the access token (protected).
pub const EXTERNAL_API: &str = "/external-api";
/// Where the provider sends the authorization response (see `redirectPath` in `auth_config.json`).
pub const CALLBACK: &str = "/callback";
