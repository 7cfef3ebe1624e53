//! `<Protected>`: the route guard.

use leptos::prelude::*;

use super::context::{use_auth, AuthStatus, LoginOptions};

/// Shows `children` only to a signed-in user. A visitor who arrives signed out is sent to log
/// in once and comes back to this path. A session that ends while the page is shown (a logout
/// in another tab, a renewal the provider refused) hides the page and offers `Log in` without
/// leaving for the provider by itself; so does a failed login, so there is never a redirect loop.
#[component]
pub fn Protected(
    /// The protected content.
    children: ChildrenFn,
) -> impl IntoView {
    let auth = use_auth();
    let redirected = StoredValue::new(false);
    let was_signed_in = StoredValue::new(false);
    Effect::new(move |_| match auth.status() {
        AuthStatus::Authenticated => was_signed_in.set_value(true),
        AuthStatus::Anonymous if !redirected.get_value() && !was_signed_in.get_value() => {
            redirected.set_value(true);
            auth.login(LoginOptions::default());
        }
        _ => {}
    });
    move || match auth.status() {
        AuthStatus::Authenticated => children().into_any(),
        AuthStatus::Loading => taking_you_to_login().into_any(),
        AuthStatus::Anonymous if !was_signed_in.get_value() => taking_you_to_login().into_any(),
        // The error itself, if any, is shown once, by the page's alert banner; no automatic
        // retry here.
        AuthStatus::Anonymous | AuthStatus::Error => view! {
            <section class="card">
                <h1>"Sign-in needed"</h1>
                <p>{SIGN_IN_NEEDED}</p>
            </section>
        }
        .into_any(),
    }
}

fn taking_you_to_login() -> impl IntoView {
    view! { <p class="muted" aria-live="polite">"Taking you to the login page…"</p> }
}

/// What a signed-out visitor sees after a failed login or a session that ended, under the
/// page's alert (if any).
const SIGN_IN_NEEDED: &str =
    "This page is only for signed-in users. Use the Log in button above to sign in.";
