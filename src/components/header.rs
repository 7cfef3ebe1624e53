//! The site header: app name, navigation and the `Log in` / `Log out` button.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::routes;
use hashgate_auth::{use_auth, AuthStatus, LoginOptions};

/// The top bar with the app name, the main navigation and the session button.
#[component]
pub fn Header() -> impl IntoView {
    let auth = use_auth();
    let user_name = move || auth.user().map(|u| u.display_name());
    view! {
        <header class="site-header">
            <div class="container header-inner">
                <a class="brand" href=routes::HOME>
                    <span class="brand-mark" aria-hidden="true">"#"</span>
                    "Hashgate"
                </a>
                <nav aria-label="Main">
                    <ul class="nav-links">
                        <li><A href=routes::HOME exact=true>"Home"</A></li>
                        <li><A href=routes::PROFILE>"Profile"</A></li>
                        <li><A href=routes::EXTERNAL_API>"External API"</A></li>
                    </ul>
                </nav>
                <div class="session">
                    {move || match auth.status() {
                        AuthStatus::Authenticated => view! {
                            <span class="user-name">{user_name}</span>
                            <button class="btn btn-secondary" on:click=move |_| auth.logout()>
                                "Log out"
                            </button>
                        }.into_any(),
                        AuthStatus::Loading => view! {
                            <span class="muted" aria-live="polite">"Checking session…"</span>
                        }.into_any(),
                        _ => view! {
                            <button
                                class="btn btn-primary"
                                on:click=move |_| auth.login(LoginOptions::default())
                            >
                                "Log in"
                            </button>
                        }.into_any(),
                    }}
                </div>
            </div>
        </header>
    }
}
