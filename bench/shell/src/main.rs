//! The size floor of Hashgate's demo: the same Leptos shell (router, header with links and a
//! button, the four routes and a fallback, footer) with no auth at all. `cargo xtask bench`
//! builds it like the app and reports its transfer size, so the table shows what Leptos and
//! wasm-bindgen cost before a single line of OAuth.

#![warn(missing_docs)]

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

/// Mounts the shell, as Hashgate's `main` mounts the app.
fn main() {
    leptos::mount::mount_to_body(App);
}

/// Hashgate's layout and routes with a local toggle where the sign-in would be.
#[component]
fn App() -> impl IntoView {
    let signed_in = RwSignal::new(false);
    view! {
        <Router>
            <div class="app-root" data-auth-state=move || if signed_in.get() { "authenticated" } else { "anonymous" }>
                <header class="site-header">
                    <nav>
                        <A href="/">"Hashgate"</A>
                        <A href="/profile">"Profile"</A>
                        <A href="/external-api">"External API"</A>
                        <button on:click=move |_| signed_in.update(|s| *s = !*s)>
                            {move || if signed_in.get() { "Log out" } else { "Log in" }}
                        </button>
                    </nav>
                </header>
                <main id="main" class="container">
                    <Routes fallback=|| view! { <h1>"Not found"</h1> }>
                        <Route path=path!("/") view=|| view! { <h1>"Home"</h1><p>"Welcome."</p> } />
                        <Route path=path!("/profile") view=|| view! { <h1>"Profile"</h1> } />
                        <Route path=path!("/external-api") view=|| view! { <h1>"External API"</h1> } />
                        <Route path=path!("/callback") view=|| view! { <p>"Signing in…"</p> } />
                    </Routes>
                </main>
                <footer>"Hashgate"</footer>
            </div>
        </Router>
    }
}
