//! `/profile`: who you are, and what your tokens say.

use hashgate_auth::protocol::jwt::dangerous::decode_segment_unverified;
use hashgate_auth::{use_auth, Session};
use leptos::prelude::*;

use crate::display::{flow_label, json_entries, now_secs, pretty_json};

/// Claims every OpenID Connect provider sends; anything else is a custom claim.
const STANDARD_CLAIMS: &[&str] = &[
    // Registered JWT and ID token claims.
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "at_hash",
    "c_hash",
    "azp",
    "sid",
    "acr",
    "amr",
    // OIDC Core §5.1 standard claims.
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

/// Roles from namespaced roles claims (Auth0 style, e.g. `https://hashgate.dev/roles`,
/// added by a rule from `app_metadata.roles`), given the custom claims as JSON text.
fn namespaced_roles(custom: &[(String, String)]) -> Vec<String> {
    custom
        .iter()
        .filter(|(k, _)| k.ends_with("/roles"))
        .filter_map(|(_, v)| js_sys::JSON::parse(v).ok())
        .filter(js_sys::Array::is_array)
        .flat_map(|list| {
            js_sys::Array::from(&list)
                .iter()
                .filter_map(|r| r.as_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The signed-in user's profile and a token inspector.
#[component]
pub fn ProfilePage() -> impl IntoView {
    let auth = use_auth();
    move || {
        auth.session().map(|session| {
            let user = session.user();
            let custom: Vec<(String, String)> = json_entries(&session.id_token_payload)
                .into_iter()
                .filter(|(k, _)| !STANDARD_CLAIMS.contains(&k.as_str()))
                .collect();
            let roles = namespaced_roles(&custom);
            view! {
                <section class="profile card">
                    <div class="profile-head">
                        {user.picture.clone().map(|src| view! {
                            <img class="avatar" src=src alt="" width="72" height="72" referrerpolicy="no-referrer" />
                        })}
                        <div>
                            <h1>"Profile"</h1>
                            <p class="profile-name">{user.display_name()}</p>
                            <p class="muted">{user.email.clone().unwrap_or_default()}</p>
                        </div>
                    </div>
                    <dl class="facts">
                        <dt>"User id (sub)"</dt>
                        <dd><code>{user.sub.clone()}</code></dd>
                        <dt>"Granted scopes"</dt>
                        <dd class="scopes">
                            {session.scope.split_whitespace().map(|s| view! { <span class="chip">{s.to_string()}</span> }).collect_view()}
                        </dd>
                        {(!roles.is_empty()).then(|| view! {
                            <dt>"Roles"</dt>
                            <dd class="roles" aria-label="Roles">
                                {roles.into_iter().map(|r| view! { <span class="chip">{r}</span> }).collect_view()}
                            </dd>
                        })}
                    </dl>
                    {(!custom.is_empty()).then(|| view! {
                        <h2>"Custom claims"</h2>
                        <table class="claims" aria-label="Custom claims">
                            <tbody>
                                {custom.into_iter().map(|(k, v)| view! {
                                    <tr><th scope="row"><code>{k}</code></th><td><code>{v}</code></td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    })}
                </section>
                <TokenInspector session=session />
            }
        })
    }
}

/// Decoded header and claims of both tokens, and a live expiry countdown.
#[component]
fn TokenInspector(
    /// The validated session whose tokens are shown.
    session: Session,
) -> impl IntoView {
    let now = RwSignal::new(now_secs());
    if let Ok(handle) = set_interval_with_handle(
        move || now.set(now_secs()),
        std::time::Duration::from_secs(1),
    ) {
        on_cleanup(move || handle.clear());
    }
    let expires_at = session.expires_at.unwrap_or(session.claims.exp);
    let countdown = move || {
        let left = expires_at - now.get();
        if left <= 0 {
            "expired".to_string()
        } else {
            format!("expires in {}:{:02}", left / 60, left % 60)
        }
    };
    let refresh_held = session.refresh_token.is_some();
    let bound_jkt = session.dpop_jkt.clone();
    let token_jkt = session
        .access_token
        .as_ref()
        .and_then(|t| access_token_jkt(t.secret()));
    let id_token = session.id_token.secret().to_string();
    let access_token = session
        .access_token
        .as_ref()
        .map(|t| t.secret().to_string());
    view! {
        <section class="card inspector">
            <h2>"Token inspector"</h2>
            <p class="muted">
                "The ID token below passed every check. The access token is shown as decoded text only: "
                "the API, not the app, decides whether it is valid."
            </p>
            <p>"Access token " <strong class="countdown" aria-live="off">{countdown}</strong></p>
            <dl class="facts session-facts">
                <dt>"Signed in with"</dt>
                <dd data-flow=session.flow.as_str()>{flow_label(session.flow)}</dd>
                <dt>"Refresh token"</dt>
                <dd data-refresh-token=if refresh_held { "true" } else { "false" }>
                    {if refresh_held { "held (never shown)" } else { "none" }}
                </dd>
                <dt>"Refresh token rotations"</dt>
                <dd data-rotations=session.rotations>{session.rotations}</dd>
                <dt>"Token binding"</dt>
                {match bound_jkt {
                    Some(jkt) => view! {
                        <dd data-dpop-jkt=jkt.clone()>
                            "DPoP: bound to this browser's key " <code>{jkt.clone()}</code>
                            {token_jkt.map(|cnf| view! {
                                <br />"access token " <code>"cnf.jkt"</code> " " <code data-cnf-jkt=cnf.clone()>{cnf.clone()}</code>
                            })}
                        </dd>
                    }.into_any(),
                    None => view! { <dd data-dpop-jkt="">"bearer (any holder can use it)"</dd> }.into_any(),
                }}
            </dl>
            <div class="token-grid">
                <TokenView title="ID token" token=id_token />
                {access_token.map(|t| view! { <TokenView title="Access token" token=t /> })}
            </div>
        </section>
    }
}

/// `cnf.jkt` of an access token that is a JWT (RFC 9449 §6.1), as shown: decoded, not checked.
fn access_token_jkt(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let text = String::from_utf8(decode_segment_unverified(payload).ok()?).ok()?;
    let (_, cnf) = json_entries(&text).into_iter().find(|(k, _)| k == "cnf")?;
    let (_, jkt) = json_entries(&cnf).into_iter().find(|(k, _)| k == "jkt")?;
    Some(jkt.trim_matches('"').to_string())
}

/// One token's decoded header and payload.
#[component]
fn TokenView(
    /// Heading for the token.
    title: &'static str,
    /// The compact JWT (or opaque token).
    token: String,
) -> impl IntoView {
    let mut segments = token.split('.');
    let decode = |s: Option<&str>| {
        s.and_then(|s| decode_segment_unverified(s).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(|text| pretty_json(&text))
    };
    let header = decode(segments.next());
    let payload = decode(segments.next());
    view! {
        <article class="token">
            <h3>{title}</h3>
            {match (header, payload) {
                (Some(h), Some(p)) => view! {
                    <h4>"Header"</h4>
                    <pre><code>{h}</code></pre>
                    <h4>"Claims"</h4>
                    <pre><code>{p}</code></pre>
                }.into_any(),
                _ => view! { <p class="muted">"Not a JWT: this token is opaque to the app."</p> }.into_any(),
            }}
        </article>
    }
}
