//! `<Protected>`: the route guard.

use leptos::prelude::*;

use super::context::{use_auth, AuthStatus, LoginOptions};

/// Shows `children` only to a signed-in user. A signed-out visitor is sent to log in once and
/// comes back to this path; after a failed login the error is shown with a `Log in` button
/// instead, so there is never a redirect loop.
#[component]
pub fn Protected(
    /// The protected content.
    children: ChildrenFn,
) -> impl IntoView {
    let auth = use_auth();
    let redirected = StoredValue::new(false);
    Effect::new(move |_| {
        if auth.status() == AuthStatus::Anonymous && !redirected.get_value() {
            redirected.set_value(true);
            auth.login(LoginOptions::default());
        }
    });
    move || match auth.status() {
        AuthStatus::Authenticated => children().into_any(),
        AuthStatus::Loading | AuthStatus::Anonymous => view! {
            <p class="muted" aria-live="polite">"Taking you to the login page…"</p>
        }
        .into_any(),
        // The error itself is shown once, by the page's alert banner; no automatic retry here.
        AuthStatus::Error => view! {
            <section class="card">
                <h1>"Sign-in needed"</h1>
                <p>{SIGN_IN_NEEDED}</p>
            </section>
        }
        .into_any(),
    }
}

/// What a signed-out visitor sees after a failed login, under the page's alert.
const SIGN_IN_NEEDED: &str =
    "This page is only for signed-in users. Use the Log in button above to try again.";
