//! Server-rendered HTML pages: login, consent, errors, logged out, and the
//! `web_message` response. Every dynamic value goes through [`esc`]; styles and
//! scripts come from `/assets/`, so the Content-Security-Policy allows no inline code.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::util::esc;

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
    headers: Vec<(header::HeaderName, String)>,
}

impl Page {
    /// A page that may not be framed and submits forms only to this provider (plus
    /// `form_origins`, where a form's redirect may lead).
    pub fn new(status: StatusCode, html: String, form_origins: &[&str]) -> Self {
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
            html,
            headers: Vec::new(),
        }
    }

    /// The `web_message` page: runs `/assets/web_message.js`, may be framed by
    /// `origin` only.
    pub fn web_message(html: String, origin: &str) -> Self {
        Self {
            status: StatusCode::OK,
            csp: format!(
                "default-src 'none'; script-src 'self'; style-src 'self'; frame-ancestors {origin}; base-uri 'none'; \
                 form-action 'none'"
            ),
            frame_ancestor: Some(origin.to_owned()),
            html,
            headers: Vec::new(),
        }
    }

    /// Adds a header (e.g. `Set-Cookie`).
    pub fn with_header(mut self, name: header::HeaderName, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut res = (self.status, self.html).into_response();
        let h = res.headers_mut();
        let set = |h: &mut axum::http::HeaderMap, name: header::HeaderName, v: &str| {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(name, v);
            }
        };
        set(h, header::CONTENT_TYPE, "text/html; charset=utf-8");
        set(h, header::CONTENT_SECURITY_POLICY, &self.csp);
        if self.frame_ancestor.is_none() {
            set(h, header::X_FRAME_OPTIONS, "DENY");
        }
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.append(name, v);
            }
        }
        res
    }
}

/// The common page frame.
pub fn layout(css_href: &str, title: &str, main: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"same-origin\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"{css}\">\n</head>\n<body>\n\
         <main class=\"card\">\n<p class=\"brand\"><span class=\"logo\" aria-hidden=\"true\">#</span> Hashgate</p>\n\
         {main}\n</main>\n<footer>hashgate-idp &middot; local development identity provider</footer>\n</body>\n</html>\n",
        title = esc(title),
        css = esc(css_href),
    )
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
pub fn login(v: &LoginView<'_>) -> String {
    let error = v
        .error
        .map(|e| format!("<p class=\"alert\" role=\"alert\">{}</p>\n", esc(e)))
        .unwrap_or_default();
    let autofocus_user = if v.username.is_empty() {
        " autofocus"
    } else {
        ""
    };
    let autofocus_pass = if v.username.is_empty() {
        ""
    } else {
        " autofocus"
    };
    let main = format!(
        "<h1>Log in</h1>\n<p class=\"lead\">to continue to <strong>{client}</strong></p>\n{error}\
         <form method=\"post\" action=\"{action}\" class=\"stack\">\n\
         <input type=\"hidden\" name=\"tx\" value=\"{tx}\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <label for=\"username\">Username</label>\n\
         <input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" autocapitalize=\"none\" \
         spellcheck=\"false\" required maxlength=\"256\" value=\"{username}\"{autofocus_user}>\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required \
         maxlength=\"1024\"{autofocus_pass}>\n\
         <button type=\"submit\" class=\"primary\">Log in</button>\n</form>\n\
         <p class=\"hint\">You will be sent back to <code>{origin}</code>.</p>",
        client = esc(v.client_name),
        action = esc(v.action),
        tx = esc(v.tx),
        csrf = esc(v.csrf),
        username = esc(v.username),
        origin = esc(v.app_origin),
    );
    layout(v.css, &format!("Log in to {}", v.client_name), &main)
}

/// One line on the consent page.
pub struct ConsentItem {
    /// What the permission allows, in words.
    pub description: String,
    /// Where it comes from (e.g. the API name) and the raw scope.
    pub detail: String,
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

/// The consent page.
pub fn consent(v: &ConsentView<'_>) -> String {
    let items: String = v
        .items
        .iter()
        .map(|i| {
            format!(
                "<li><span>{}</span> <small>{}</small></li>\n",
                esc(&i.description),
                esc(&i.detail)
            )
        })
        .collect();
    let main = format!(
        "<h1>Authorize {client}</h1>\n<p class=\"lead\">Signed in as <strong>{user}</strong>. \
         <strong>{client}</strong> (<code>{origin}</code>) is asking to:</p>\n\
         <ul class=\"scopes\">\n{items}</ul>\n\
         <form method=\"post\" action=\"{action}\" class=\"actions\">\n\
         <input type=\"hidden\" name=\"tx\" value=\"{tx}\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"allow\" class=\"primary\" autofocus>Allow</button>\n\
         </form>\n<p class=\"hint\">Your answer is remembered for this application.</p>",
        client = esc(v.client_name),
        user = esc(v.user_label),
        origin = esc(v.app_origin),
        action = esc(v.action),
        tx = esc(v.tx),
        csrf = esc(v.csrf),
    );
    layout(v.css, &format!("Authorize {}", v.client_name), &main)
}

/// A page with a heading and a message (errors, logged out).
pub fn message(css: &str, heading: &str, text: &str, alert: bool) -> String {
    let role = if alert { " role=\"alert\"" } else { "" };
    let class = if alert { "alert" } else { "lead" };
    let main = format!(
        "<h1>{}</h1>\n<p class=\"{class}\"{role}>{}</p>",
        esc(heading),
        esc(text)
    );
    layout(css, heading, &main)
}

/// The `web_message` response page. `json` is the message and target origin,
/// already serialised; it is made safe to embed inside `<script>`.
pub fn web_message(css: &str, script: &str, json: &str) -> String {
    // Inside a <script> element only "</script" or "<!--" could end or confuse it;
    // escaping every '<', '>' and '&' as JSON unicode escapes rules both out.
    let safe = json
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"referrer\" content=\"same-origin\">\n<title>Authorization response</title>\n\
         <link rel=\"stylesheet\" href=\"{css}\">\n</head>\n<body>\n\
         <script type=\"application/json\" id=\"authorization-response\">{safe}</script>\n\
         <p class=\"hint\">Returning to the application&hellip;</p>\n\
         <script src=\"{script}\"></script>\n</body>\n</html>\n",
        css = esc(css),
        script = esc(script),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        });
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
            r#"{"state":"</script><script>alert(1)</script>"}"#,
        );
        assert_eq!(html.matches("</script>").count(), 2);
        assert!(html.contains("\\u003c/script\\u003e"));
    }
}
