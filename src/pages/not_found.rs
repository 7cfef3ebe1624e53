//! Any unknown path.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::routes;

/// Shown for paths no route matches.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! {
        <section class="card narrow">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <p><A href=routes::HOME>"Go to the home page"</A></p>
        </section>
    }
}
