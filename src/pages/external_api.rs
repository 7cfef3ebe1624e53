//! `/external-api`: calls the demo API with the access token.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiClient, ApiError, ApiResponse, MessageList, NewMessage};
use crate::components::alert::Alert;
use hashgate_auth::use_auth;

/// The outcome of one API call, as shown in a result panel.
#[derive(Clone, Debug, PartialEq)]
enum CallResult {
    Idle,
    Pending,
    Done(ApiResponse),
    Failed(String, Option<ApiResponse>),
}

impl From<Result<ApiResponse, ApiError>> for CallResult {
    fn from(result: Result<ApiResponse, ApiError>) -> Self {
        match result {
            Ok(r) => CallResult::Done(r),
            Err(e) => CallResult::Failed(e.to_string(), e.response().cloned()),
        }
    }
}

/// Buttons for each endpoint and a small messages board.
#[component]
pub fn ExternalApiPage() -> impl IntoView {
    let api = ApiClient::new(use_auth());
    view! {
        <section class="card">
            <h1>"External API"</h1>
            <p>
                "Each button calls the demo API. Private endpoints get "
                <code>"Authorization: Bearer <access token>"</code>
                "; the API checks the signature, issuer, audience, expiry and scopes itself."
            </p>
        </section>
        <div class="endpoint-grid">
            <Endpoint label="Call public" path="/api/public" api=api public=true />
            <Endpoint label="Call private" path="/api/private" api=api public=false />
            <Endpoint label="Call private-scoped" path="/api/private-scoped" api=api public=false />
        </div>
        <Messages api=api />
    }
}

/// One endpoint: a button and the last answer.
#[component]
fn Endpoint(
    /// Button text.
    label: &'static str,
    /// API path, e.g. `/api/private`.
    path: &'static str,
    /// The client to call with.
    api: ApiClient,
    /// Call without a token.
    public: bool,
) -> impl IntoView {
    let result = RwSignal::new(CallResult::Idle);
    let call = move |_| {
        result.set(CallResult::Pending);
        spawn_local(async move {
            let answer = if public {
                api.get_public(path).await
            } else {
                api.get(path).await
            };
            result.set(answer.into());
        });
    };
    view! {
        <article class="card endpoint" data-endpoint=path>
            <h2><code>"GET " {path}</code></h2>
            <button class="btn btn-primary" on:click=call>{label}</button>
            <ResultPanel result=result />
        </article>
    }
}

/// Shows a call's status code and body, or its error as an alert.
#[component]
fn ResultPanel(
    /// The call's state.
    result: RwSignal<CallResult>,
) -> impl IntoView {
    move || match result.get() {
        CallResult::Idle => ().into_any(),
        CallResult::Pending => {
            view! { <p class="muted" aria-live="polite">"Calling…"</p> }.into_any()
        }
        CallResult::Done(r) => view! {
            <div class="result">
                <p class="status" data-status=r.status>"HTTP " {r.status}</p>
                <pre><code>{r.body}</code></pre>
            </div>
        }
        .into_any(),
        CallResult::Failed(message, response) => view! {
            <div class="result">
                <Alert message=message />
                {response.map(|r| view! {
                    <p class="status" data-status=r.status>"HTTP " {r.status}</p>
                    <pre><code>{r.body}</code></pre>
                })}
            </div>
        }
        .into_any(),
    }
}

/// Lists the caller's messages and posts new ones (`read:messages` / `write:messages`).
#[component]
fn Messages(
    /// The client to call with.
    api: ApiClient,
) -> impl IntoView {
    let messages = RwSignal::new(Vec::<(String, String)>::new());
    let result = RwSignal::new(CallResult::Idle);
    let draft = RwSignal::new(String::new());
    let load = move || {
        spawn_local(async move {
            let answer = api.get_json::<MessageList>("/api/messages").await;
            let answer = answer.map(|(response, list)| {
                messages.set(
                    list.messages
                        .into_iter()
                        .map(|m| (m.text, m.created_at.unwrap_or_default()))
                        .collect(),
                );
                response
            });
            result.set(answer.into());
        });
    };
    let post = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked();
        result.set(CallResult::Pending);
        spawn_local(async move {
            let answer = api
                .post_json("/api/messages", &NewMessage { text: &text })
                .await;
            let ok = matches!(&answer, Ok(r) if r.status == 201);
            result.set(answer.into());
            if ok {
                draft.set(String::new());
                load();
            }
        });
    };
    view! {
        <section class="card messages">
            <h2>"Your messages"</h2>
            <p class="muted">"Stored by the API under your user id; needs "
                <code>"read:messages"</code> " to list and " <code>"write:messages"</code> " to post."</p>
            <form class="message-form" on:submit=post>
                <label for="message-text">"New message"</label>
                <div class="row">
                    <input id="message-text" name="text" type="text" maxlength="500" required
                        prop:value=move || draft.get()
                        on:input=move |ev| draft.set(event_target_value(&ev)) />
                    <button class="btn btn-primary" type="submit">"Post message"</button>
                </div>
            </form>
            <button class="btn btn-secondary" on:click=move |_| load()>"Load messages"</button>
            <ResultPanel result=result />
            <ul class="message-list">
                {move || messages.get().into_iter().map(|(text, at)| view! {
                    <li><span class="message-text">{text}</span> <time class="muted">{at}</time></li>
                }).collect_view()}
            </ul>
        </section>
    }
}
