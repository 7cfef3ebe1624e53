//! `/callback`: where the provider returns. The work is done by `<AuthProvider>`; this page shows progress.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::routes;
use hashgate_auth::{use_auth, AuthStatus};

/// Progress and outcome of handling an authorization response.
#[component]
pub fn CallbackPage() -> impl IntoView {
    let auth = use_auth();
    move || match auth.status() {
        AuthStatus::Loading => view! {
            <section class="card narrow">
                <h1>"Signing you in…"</h1>
                <p class="muted">"Checking the response from your identity provider."</p>
            </section>
        }
        .into_any(),
        AuthStatus::Error => view! {
            <section class="card narrow">
                <h1>"Sign-in failed"</h1>
                <p>"Nothing was stored. You can try again with the Log in button."</p>
                <p><A href=routes::HOME>"Back to the home page"</A></p>
            </section>
        }
        .into_any(),
        _ => view! {
            <section class="card narrow">
                <h1>"Nothing to do here"</h1>
                <p>"This address only handles the answer of a login you started."</p>
                <p><A href=routes::HOME>"Back to the home page"</A></p>
            </section>
        }
        .into_any(),
    }
}
