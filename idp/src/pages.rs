//! Server-rendered HTML pages: login, consent, errors, logged out, the `web_message`
//! response and the initials avatar.
//!
//! Pages are maud templates: every interpolated value is HTML-escaped by the template
//! engine, so no page can forget to escape one. The single raw insertion is the
//! `web_message` JSON, made inert for a `<script>` element by [`script_json`]. Styles
//! and scripts come from `/assets/`, so the Content-Security-Policy allows no inline code.

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// What `Debug` prints for the CSRF token (this module imports no other, so it keeps
/// its own copy of `util::REDACTED`).
const REDACTED: &str = "[redacted]";

/// The stylesheet served at `/assets/idp.css`.
pub const CSS: &str = include_str!("../assets/idp.css");
/// The script served at `/assets/web_message.js`.
pub const WEB_MESSAGE_JS: &str = include_str!("../assets/web_message.js");

/// An HTML response with security headers.
pub struct Page {
    status: StatusCode,
    csp: String,
    /// `None`: the page may not be framed at all.
    frame_ancestor: Option<String>,
    html: String,
}

impl Page {
    /// A page that may not be framed and submits forms only to this provider (plus
    /// `form_origins`, where a form's redirect may lead).
    pub fn new(status: StatusCode, html: Markup, form_origins: &[&str]) -> Self {
        let mut form_action = String::from("'self'");
        for o in form_origins {
            form_action.push(' ');
            form_action.push_str(o);
        }
        Self {
            status,
            csp: format!(
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action {form_action}; \
                 frame-ancestors 'none'; base-uri 'none'"
            ),
            frame_ancestor: None,
            html: html.into_string(),
        }
    }

    /// The `web_message` page: runs `/assets/web_message.js`, may be framed by
    /// `origin` only.
    pub fn web_message(html: Markup, origin: &str) -> Self {
        Self {
            status: StatusCode::OK,
            csp: format!(
                "default-src 'none'; script-src 'self'; style-src 'self'; frame-ancestors {origin}; base-uri 'none'; \
                 form-action 'none'"
            ),
            frame_ancestor: Some(origin.to_owned()),
            html: html.into_string(),
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut res = (self.status, self.html).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&self.csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        if self.frame_ancestor.is_none() {
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
        res
    }
}

/// An error page a handler asked for without knowing where the stylesheet lives: the
/// router's outermost layer renders it with [`message`].
#[derive(Debug, Clone)]
pub struct ErrorPage {
    /// The page heading.
    pub heading: Cow<'static, str>,
    /// The sentence under it.
    pub message: Cow<'static, str>,
}

/// The common page frame.
fn layout(css_href: &str, title: &str, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) }
                link rel="stylesheet" href=(css_href);
            }
            body {
                main class="card" {
                    p class="brand" { span class="logo" aria-hidden="true" { "#" } " Hashgate" }
                    (main)
                }
                footer { "hashgate-idp \u{b7} local development identity provider" }
            }
        }
    }
}

/// What the login page shows.
pub struct LoginView<'a> {
    /// Stylesheet URL path.
    pub css: &'a str,
    /// Form action path.
    pub action: &'a str,
    /// The client's display name.
    pub client_name: &'a str,
    /// The origin the tokens will go to.
    pub app_origin: &'a str,
    /// Pending request id.
    pub tx: &'a str,
    /// CSRF token.
    pub csrf: &'a str,
    /// Prefilled username.
    pub username: &'a str,
    /// Error to show, if any.
    pub error: Option<&'a str>,
}

/// The login page.
pub fn login(v: &LoginView<'_>) -> Markup {
    let no_user = v.username.is_empty();
    let main = html! {
        h1 { "Log in" }
        p class="lead" { "to continue to " strong { (v.client_name) } }
        @if let Some(error) = v.error {
            p class="alert" role="alert" { (error) }
        }
        form method="post" action=(v.action) class="stack" {
            input type="hidden" name="tx" value=(v.tx);
            input type="hidden" name="csrf" value=(v.csrf);
            label for="username" { "Username" }
            input id="username" name="username" type="text" autocomplete="username"
                autocapitalize="none" spellcheck="false" required maxlength="256"
                value=(v.username) autofocus[no_user];
            label for="password" { "Password" }
            input id="password" name="password" type="password"
                autocomplete="current-password" required maxlength="1024" autofocus[!no_user];
            button type="submit" class="primary" { "Log in" }
        }
        p class="hint" { "You will be sent back to " code { (v.app_origin) } "." }
    };
    layout(v.css, &format!("Log in to {}", v.client_name), main)
}

/// One line on the consent page.
pub struct ConsentItem {
    /// What the permission allows, in words.
    pub description: String,
    /// Where it comes from (e.g. the API name) and the raw scope.
    pub detail: String,
}

impl std::fmt::Debug for LoginView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginView")
            .field("client_name", &self.client_name)
            .field("app_origin", &self.app_origin)
            .field("tx", &self.tx)
            .field("csrf", &REDACTED)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What the consent page shows.
pub struct ConsentView<'a> {
    /// Stylesheet URL path.
    pub css: &'a str,
    /// Form action path.
    pub action: &'a str,
    /// The client's display name.
    pub client_name: &'a str,
    /// Who is logged in.
    pub user_label: &'a str,
    /// The origin the tokens will go to.
    pub app_origin: &'a str,
    /// Pending request id.
    pub tx: &'a str,
    /// CSRF token.
    pub csrf: &'a str,
    /// The permissions asked for.
    pub items: &'a [ConsentItem],
}

impl std::fmt::Debug for ConsentView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentView")
            .field("client_name", &self.client_name)
            .field("user_label", &self.user_label)
            .field("app_origin", &self.app_origin)
            .field("tx", &self.tx)
            .field("csrf", &REDACTED)
            .finish_non_exhaustive()
    }
}

/// The consent page.
pub fn consent(v: &ConsentView<'_>) -> Markup {
    let main = html! {
        h1 { "Authorize " (v.client_name) }
        p class="lead" {
            "Signed in as " strong { (v.user_label) } ". "
            strong { (v.client_name) } " (" code { (v.app_origin) } ") is asking to:"
        }
        ul class="scopes" {
            @for item in v.items {
                li { span { (item.description) } " " small { (item.detail) } }
            }
        }
        form method="post" action=(v.action) class="actions" {
            input type="hidden" name="tx" value=(v.tx);
            input type="hidden" name="csrf" value=(v.csrf);
            button type="submit" name="decision" value="deny" class="secondary" { "Deny" }
            button type="submit" name="decision" value="allow" class="primary" autofocus { "Allow" }
        }
        p class="hint" { "Your answer is remembered for this application." }
    };
    layout(v.css, &format!("Authorize {}", v.client_name), main)
}

/// A page with a heading and a message (errors, logged out).
pub fn message(css: &str, heading: &str, text: &str, alert: bool) -> Markup {
    let main = html! {
        h1 { (heading) }
        @if alert {
            p class="alert" role="alert" { (text) }
        } @else {
            p class="lead" { (text) }
        }
    };
    layout(css, heading, main)
}

/// JSON made safe to sit inside a `<script>` element: only `</script` or `<!--` could
/// end or confuse it, and escaping every `<`, `>` and `&` as JSON unicode escapes rules
/// both out while `JSON.parse` reads the same value. HTML escaping would not do: a
/// script element's text is not entity-decoded.
pub fn script_json(json: &serde_json::Value) -> PreEscaped<String> {
    PreEscaped(
        json.to_string()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
    )
}

/// The `web_message` response page: the message and target origin as JSON in a data
/// element, posted by the static `/assets/web_message.js`.
pub fn web_message(css: &str, script: &str, message: &serde_json::Value) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="referrer" content="same-origin";
                title { "Authorization response" }
                link rel="stylesheet" href=(css);
            }
            body {
                script type="application/json" id="authorization-response" { (script_json(message)) }
                p class="hint" { "Returning to the application\u{2026}" }
                script src=(script) {}
            }
        }
    }
}

/// A round initials avatar (SVG). Elements are closed explicitly: SVG is XML.
pub fn avatar(initial: &str, hue: u32) -> Markup {
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128" {
            circle cx="64" cy="64" r="64" fill=(format!("hsl({hue},55%,45%)")) {}
            text x="64" y="84" font-family="sans-serif" font-size="60" text-anchor="middle" fill="#fff" {
                (initial)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_view_prints_no_csrf_token() {
        let login = LoginView {
            css: "/c",
            action: "/login",
            client_name: "App",
            app_origin: "http://app",
            tx: "tx",
            csrf: "csrf-secret-value",
            username: "alice",
            error: None,
        };
        let printed = format!("{login:?}");
        assert!(!printed.contains("secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }

    #[test]
    fn the_consent_view_prints_no_csrf_token() {
        let consent = ConsentView {
            css: "/c",
            action: "/consent",
            client_name: "App",
            user_label: "Alice",
            app_origin: "http://app",
            tx: "tx",
            csrf: "csrf-secret-value",
            items: &[],
        };
        let printed = format!("{consent:?}");
        assert!(!printed.contains("secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }

    #[test]
    fn the_login_page_escapes_the_client_name_and_username() {
        let html = login(&LoginView {
            css: "/assets/idp.css",
            action: "/login",
            client_name: "<b>Evil</b>",
            app_origin: "http://x",
            tx: "t",
            csrf: "c",
            username: "\"><script>",
            error: Some("<i>"),
        })
        .into_string();
        assert!(!html.contains("<b>Evil"));
        assert!(!html.contains("\"><script>"));
        assert!(html.contains("&lt;b&gt;Evil&lt;/b&gt;"));
        assert!(html.contains("&lt;i&gt;"));
    }

    #[test]
    fn web_message_json_cannot_close_its_script_element() {
        let html = web_message(
            "/c.css",
            "/w.js",
            &serde_json::json!({"state": "</script><script>alert(1)</script>"}),
        )
        .into_string();
        assert_eq!(html.matches("</script>").count(), 2);
        assert!(html.contains("\\u003c/script\\u003e"));
    }

    #[test]
    fn the_avatar_is_well_formed_svg_with_its_text_escaped() {
        let svg = avatar("<", 120).into_string();
        assert!(svg
            .contains("<circle cx=\"64\" cy=\"64\" r=\"64\" fill=\"hsl(120,55%,45%)\"></circle>"));
        assert!(svg.contains(">&lt;</text>"));
    }
}
