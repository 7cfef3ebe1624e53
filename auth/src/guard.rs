//! `<Protected>`: the route guard.

use leptos::prelude::*;

use crate::context::use_auth;
use crate::decide::{guard_starts_login, guard_view, GuardView};
use crate::login::LoginOptions;
use crate::state::AuthStatus;

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
    Effect::new(move |_| {
        let status = auth.status();
        if status == AuthStatus::Authenticated {
            was_signed_in.set_value(true);
        }
        if guard_starts_login(status, was_signed_in.get_value(), redirected.get_value()) {
            redirected.set_value(true);
            auth.login(LoginOptions::default());
        }
    });
    move || match guard_view(auth.status(), was_signed_in.get_value()) {
        GuardView::Content => children().into_any(),
        GuardView::TakingYouToLogin => taking_you_to_login().into_any(),
        // The error itself, if any, is shown once, by the page's alert banner; no automatic
        // retry here.
        GuardView::SignInNeeded => view! {
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
