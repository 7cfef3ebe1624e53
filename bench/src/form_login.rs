//! A normal password login over HTTP, as a browser does it: `GET /authorize`, the redirect
//! to the login page, the page's form read with an HTML parser (its action and hidden
//! fields), the username and password posted, and the redirect back to the app, whose
//! fragment must carry the tokens (RFC 6749 §4.2.2). Each login has a fresh cookie jar (a
//! new visitor) and comes from a chosen local address, so that on loopback it is another
//! client than a flood from 127.0.0.1.

use std::{
    fmt,
    net::IpAddr,
    time::{Duration, Instant},
};

use reqwest::{header, redirect, Response, StatusCode};
use scraper::{Html, Selector};
use url::Url;

/// The step of a login at which the provider answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// `GET /authorize`.
    Authorize,
    /// `GET` of the login page it redirected to.
    LoginPage,
    /// `POST` of the login form.
    Submit,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Authorize => "/authorize",
            Step::LoginPage => "the login page",
            Step::Submit => "the login form",
        })
    }
}

/// How one login ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginEnd {
    /// Redirected back to the app with an access token or an ID token in the fragment.
    Tokens,
    /// The provider answered `step` with this status instead of going on (e.g. 429).
    Refused {
        /// Where.
        step: Step,
        /// The HTTP status.
        status: u16,
    },
    /// Redirected back to the app with an OAuth `error` (RFC 6749 §4.2.2.1).
    OauthError(String),
    /// No answer, or one of a shape a login never has; the text says which.
    Broken(String),
}

/// One login to perform.
#[derive(Debug, Clone)]
pub struct Login<'a> {
    /// The provider's issuer URL, ending with `/`.
    pub issuer: &'a Url,
    /// The query of the authorization request (RFC 6749 §4.2.1).
    pub query: &'a str,
    /// Who logs in.
    pub username: &'a str,
    /// Their password.
    pub password: &'a str,
    /// The local address the connections come from.
    pub from: IpAddr,
}

/// The form of a login page: where it posts and its hidden fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm {
    /// The `action` of the form (relative to the page).
    pub action: String,
    /// `(name, value)` of each `<input type="hidden">`, in page order.
    pub hidden: Vec<(String, String)>,
}

/// The first `<form method="post">` of `html` with a `password` field; `None` without one.
/// Attribute values come decoded, as a browser would post them.
pub fn parse_login_form(html: &str) -> Option<LoginForm> {
    let document = Html::parse_document(html);
    let forms = Selector::parse(r#"form[method="post" i]"#).ok()?;
    let password = Selector::parse(r#"input[name="password"]"#).ok()?;
    let hidden = Selector::parse(r#"input[type="hidden" i][name]"#).ok()?;
    let form = document
        .select(&forms)
        .find(|form| form.select(&password).next().is_some())?;
    let attr = |element: scraper::ElementRef<'_>, name: &str| {
        element.value().attr(name).unwrap_or_default().to_owned()
    };
    Some(LoginForm {
        action: attr(form, "action"),
        hidden: form
            .select(&hidden)
            .map(|input| (attr(input, "name"), attr(input, "value")))
            .collect(),
    })
}

/// Logs in once; returns how it ended and how long it took.
pub async fn login(login: &Login<'_>) -> (LoginEnd, Duration) {
    let started = Instant::now();
    let end = match attempt(login).await {
        Ok(end) | Err(end) => end,
    };
    (end, started.elapsed())
}

async fn attempt(login: &Login<'_>) -> Result<LoginEnd, LoginEnd> {
    let broken =
        |what: &str, error: &dyn fmt::Display| LoginEnd::Broken(format!("{what}: {error}"));
    let client = reqwest::Client::builder()
        .local_address(login.from)
        .redirect(redirect::Policy::none())
        .cookie_store(true)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|error| broken("no HTTP client", &error))?;
    let authorize = login
        .issuer
        .join(&format!("authorize?{}", login.query))
        .map_err(|error| broken("bad issuer", &error))?;

    let answer = send(client.get(authorize.clone()), Step::Authorize).await?;
    let page_url = redirected(&answer, &authorize, Step::Authorize)?;
    if page_url.fragment().is_some() {
        // Answered at once (a session was present): the app's callback.
        return Ok(ending(&page_url));
    }
    let page = send(client.get(page_url.clone()), Step::LoginPage).await?;
    if page.status() != StatusCode::OK {
        return Err(refused(Step::LoginPage, page.status()));
    }
    let html = page
        .text()
        .await
        .map_err(|error| broken("reading the login page", &error))?;
    let form = parse_login_form(&html)
        .ok_or_else(|| LoginEnd::Broken("the login page has no login form".to_owned()))?;
    let action = page_url
        .join(&form.action)
        .map_err(|error| broken("bad form action", &error))?;
    let mut fields = form.hidden;
    fields.push(("username".to_owned(), login.username.to_owned()));
    fields.push(("password".to_owned(), login.password.to_owned()));
    let post = client
        .post(action.clone())
        // A browser's form post names its origin; the provider checks it.
        .header(header::ORIGIN, login.issuer.origin().ascii_serialization())
        .form(&fields);
    let answer = send(post, Step::Submit).await?;
    let back = redirected(&answer, &action, Step::Submit)?;
    if back.fragment().is_none() {
        return Err(LoginEnd::Broken(format!(
            "the login form led to {} instead of back to the app",
            back.path()
        )));
    }
    Ok(ending(&back))
}

async fn send(request: reqwest::RequestBuilder, step: Step) -> Result<Response, LoginEnd> {
    request
        .send()
        .await
        .map_err(|error| LoginEnd::Broken(format!("{step}: {error}")))
}

fn refused(step: Step, status: StatusCode) -> LoginEnd {
    LoginEnd::Refused {
        step,
        status: status.as_u16(),
    }
}

/// Where a redirect points, resolved against the request's URL; a non-redirect is a refusal.
fn redirected(answer: &Response, base: &Url, step: Step) -> Result<Url, LoginEnd> {
    if !answer.status().is_redirection() {
        return Err(refused(step, answer.status()));
    }
    let location = answer
        .headers()
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| LoginEnd::Broken(format!("{step}: a redirect without Location")))?;
    base.join(location)
        .map_err(|error| LoginEnd::Broken(format!("{step}: bad Location: {error}")))
}

/// What the app's callback URL says (RFC 6749 §4.2.2 and §4.2.2.1).
fn ending(callback: &Url) -> LoginEnd {
    let fragment = callback.fragment().unwrap_or_default();
    let mut tokens = false;
    for (name, value) in url::form_urlencoded::parse(fragment.as_bytes()) {
        match name.as_ref() {
            "error" => return LoginEnd::OauthError(value.into_owned()),
            "access_token" | "id_token" if !value.is_empty() => tokens = true,
            _ => {}
        }
    }
    if tokens {
        LoginEnd::Tokens
    } else {
        LoginEnd::Broken("back at the app without tokens".to_owned())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap
mod tests {
    use super::*;

    use hashgate_idp::{ClientConfig, Config};

    const PAGE: &str = r#"<!doctype html><html><body>
        <form method="get" action="/elsewhere"><input type="hidden" name="no" value="1"></form>
        <form method="POST" action="/login" class="stack">
        <input type="hidden" name="tx" value="T1">
        <input type="hidden" name="csrf" value="C&amp;2">
        <input id="username" name="username" type="text">
        <input id="password" name="password" type="password" required>
        <button type="submit">Log in</button></form></body></html>"#;

    // A browser posts the form's hidden fields to its action; so does the bench's login.
    #[test]
    fn the_login_form_gives_its_action_and_hidden_fields() {
        let form = parse_login_form(PAGE).unwrap();
        assert_eq!(form.action, "/login");
        assert_eq!(
            form.hidden,
            vec![
                ("tx".to_owned(), "T1".to_owned()),
                ("csrf".to_owned(), "C&2".to_owned())
            ]
        );
        // An error page (no password field) is not a login form.
        assert_eq!(
            parse_login_form(
                "<form method=post action=/x><input type=hidden name=a value=b></form>"
            ),
            None
        );
        assert_eq!(parse_login_form("<p>Too many pending logins</p>"), None);
    }

    // RFC 6749 §4.2.2 / §4.2.2.1: tokens or an error come back in the fragment.
    #[test]
    fn the_callback_fragment_says_how_the_login_ended() {
        let at =
            |fragment: &str| ending(&Url::parse(&format!("http://a/callback#{fragment}")).unwrap());
        assert_eq!(at("access_token=x&id_token=y&state=s"), LoginEnd::Tokens);
        assert_eq!(
            at("error=access_denied&state=s"),
            LoginEnd::OauthError("access_denied".to_owned())
        );
        assert!(matches!(at("state=s"), LoginEnd::Broken(_)));
        assert!(matches!(at("access_token="), LoginEnd::Broken(_)));
    }

    /// The demo provider in-process with a first-party client for `http://127.0.0.1:9`.
    async fn provider() -> (Url, tempfile::TempDir) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}/", listener.local_addr().unwrap());
        let mut config = Config::demo();
        let mut client = ClientConfig::spa("bench", "Bench", "http://127.0.0.1:9").unwrap();
        client.skip_consent = true;
        config.clients.push(client);
        let data = tempfile::tempdir().unwrap();
        tokio::spawn(hashgate_idp::serve(
            listener,
            issuer.clone(),
            config,
            data.path().to_path_buf(),
        ));
        (Url::parse(&issuer).unwrap(), data)
    }

    fn query() -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "id_token token")
            .append_pair("client_id", "bench")
            .append_pair("redirect_uri", "http://127.0.0.1:9/callback")
            .append_pair("scope", "openid profile")
            .append_pair("state", "s1")
            .append_pair("nonce", "n1")
            .finish()
    }

    // The flood bench's "normal login" really logs in over HTTP from another loopback address,
    // and a wrong password is not counted as one (RFC 6749 §4.2.2: tokens in the fragment).
    #[tokio::test]
    async fn a_password_login_from_another_loopback_address_ends_with_tokens() {
        let (issuer, _data) = provider().await;
        let query = query();
        let mut login = Login {
            issuer: &issuer,
            query: &query,
            username: "alice",
            password: "alice-password",
            from: IpAddr::from([127, 0, 0, 2]),
        };
        let (end, elapsed) = super::login(&login).await;
        assert_eq!(end, LoginEnd::Tokens);
        assert!(elapsed > Duration::ZERO);

        login.password = "wrong";
        let (end, _) = super::login(&login).await;
        assert_eq!(
            end,
            LoginEnd::Refused {
                step: Step::Submit,
                status: 401
            }
        );

        let unknown = "response_type=token&client_id=nobody";
        login.query = unknown;
        let (end, _) = super::login(&login).await;
        assert!(
            matches!(end, LoginEnd::Refused { step: Step::Authorize, status } if status >= 400),
            "{end:?}"
        );
    }
}
