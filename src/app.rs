//! The application shell: router, header, routes.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};

use crate::components::alert::Alert;
use crate::components::header::Header;
use crate::pages::{
    callback::CallbackPage, external_api::ExternalApiPage, home::HomePage, not_found::NotFoundPage,
    profile::ProfilePage,
};
use crate::routes::{self, segment};
use hashgate_auth::{use_auth, AuthProvider, Protected};

/// The whole app: an [`AuthProvider`] around the header and the routed pages.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <AuthProvider>
                <Header />
                <main id="main" class="container">
                    <AuthErrorBanner />
                    <Routes fallback=NotFoundPage>
                        <Route path=segment(routes::HOME) view=HomePage />
                        <Route
                            path=segment(routes::PROFILE)
                            view=|| view! { <Protected><ProfilePage /></Protected> }
                        />
                        <Route
                            path=segment(routes::EXTERNAL_API)
                            view=|| view! { <Protected><ExternalApiPage /></Protected> }
                        />
                        <Route path=segment(routes::CALLBACK) view=CallbackPage />
                    </Routes>
                </main>
                <footer class="site-footer container">
                    <p>
                        "Hashgate — OpenID Connect sign-in, validated in Rust: the "
                        <a href="https://openid.net/specs/openid-connect-core-1_0.html#ImplicitFlowAuth">
                            "implicit grant"
                        </a>
                        " or the "
                        <a href="https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth">
                            "authorization code flow"
                        </a>
                        " with PKCE."
                    </p>
                </footer>
            </AuthProvider>
        </Router>
    }
}

/// The sign-in error, if any, once for the whole page.
#[component]
fn AuthErrorBanner() -> impl IntoView {
    let auth = use_auth();
    move || {
        auth.error().map(|e| {
            view! { <Alert message=e.to_string() /> }
        })
    }
}
