//! `/`: what Hashgate is.

use leptos::prelude::*;
use leptos_router::components::A;

use hashgate_auth::use_auth;

use crate::display::flow_label;
use crate::routes;

/// The landing page: what the app does and where to go next.
#[component]
pub fn HomePage() -> impl IntoView {
    let auth = use_auth();
    view! {
        <section class="hero">
            <h1>"Hashgate"</h1>
            <p class="lead">
                "A Rust single-page app that signs you in with OpenID Connect (the implicit grant "
                "or the authorization code flow with PKCE), checks every token it receives, and "
                "calls an API with your access token."
            </p>
            {move || match auth.user() {
                Some(user) => view! {
                    <p class="welcome">
                        "Welcome back, " <strong>{user.display_name()}</strong> ". "
                        <A href=routes::PROFILE>"See your profile and tokens"</A>
                        " or "
                        <A href=routes::EXTERNAL_API>"call the API"</A>
                        "."
                    </p>
                }.into_any(),
                None => view! {
                    <p class="welcome">"Use " <strong>"Log in"</strong> " at the top to start."</p>
                }.into_any(),
            }}
        </section>
        <p class="configured-flow muted">
            {move || {
                // Re-read once the settings have loaded (the status leaves "loading").
                auth.status();
                auth.config().map(|config| {
                    let renewal = if config.use_refresh_tokens {
                        "renewed with rotating refresh tokens"
                    } else {
                        "renewed in a hidden iframe"
                    };
                    view! {
                        "Sign-in method: "
                        <strong data-flow=config.response_type.as_str()>
                            {flow_label(config.response_type)}
                        </strong>
                        ", " {renewal} "."
                    }
                })
            }}
        </p>
        <section class="features" aria-label="How it works">
            <article class="card">
                <h2>"1. Redirect"</h2>
                <p>"The app sends you to the identity provider's " <code>"/authorize"</code>
                   " with a fresh " <code>"state"</code> ", " <code>"nonce"</code>
                   " and, in the code flow, a PKCE challenge."</p>
            </article>
            <article class="card">
                <h2>"2. Validate"</h2>
                <p>"The answer is removed from the address bar at once; tokens (from the URL "
                   "fragment, or for a code from the token endpoint) pass signature, issuer, "
                   "audience, expiry, nonce and " <code>"at_hash"</code> " checks."</p>
            </article>
            <article class="card">
                <h2>"3. Call the API"</h2>
                <p>"Requests carry " <code>"Authorization: Bearer …"</code>
                   "; the API validates the token on its own."</p>
            </article>
        </section>
    }
}
