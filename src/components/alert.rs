//! An error message that assistive technology announces.

use leptos::prelude::*;

/// Shows `message` as plain (escaped) text in a `role="alert"` box.
#[component]
pub fn Alert(
    /// The sentence to show; rendered as text, never as HTML.
    #[prop(into)]
    message: String,
    /// Optional content under the message, such as a retry button.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="alert" role="alert">
            <p class="alert-message">{sentence(&message)}</p>
            {children.map(|c| c())}
        </div>
    }
}

/// Error messages are written lowercase (Rust style); on screen they start a sentence.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
