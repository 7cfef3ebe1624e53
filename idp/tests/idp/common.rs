//! Test harness: an in-process provider on a temp data dir, driven through
//! `tower::ServiceExt::oneshot`, and a tiny cookie-keeping "browser".

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use hashgate_idp::{AppState, Config, Settings};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

pub const ISSUER: &str = "http://localhost:3000/";
pub const CLIENT: &str = "hashgate-spa";
pub const CALLBACK: &str = "http://localhost:8080/callback";
pub const API: &str = "https://api.hashgate.local";

/// One RSA key per test process: key generation is the slow part of start-up.
pub fn key_pem() -> String {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| hashgate_idp::generate_signing_key_pem().unwrap())
        .clone()
}

/// The demo config with password hashes computed once per process.
pub fn demo_config() -> Config {
    static HASHES: OnceLock<Vec<String>> = OnceLock::new();
    let mut config = Config::demo();
    let hashes = HASHES.get_or_init(|| {
        config
            .users
            .iter()
            .map(|u| hashgate_idp::state::hash_password(u.password.as_deref().unwrap()).unwrap())
            .collect()
    });
    for (u, h) in config.users.iter_mut().zip(hashes) {
        u.password = None;
        u.password_hash = Some(h.clone());
    }
    config
}

pub struct Idp {
    pub state: AppState,
    pub app: Router,
    pub dir: tempfile::TempDir,
}

impl Idp {
    pub fn new() -> Self {
        Self::with_config(|_| {})
    }

    pub fn with_config(edit: impl FnOnce(&mut Config)) -> Self {
        Self::at(ISSUER, edit)
    }

    /// A provider with another issuer URL (the scheme decides the cookies' form).
    pub fn at(issuer: &str, edit: impl FnOnce(&mut Config)) -> Self {
        let mut config = demo_config();
        edit(&mut config);
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::new(
            Settings::new(issuer, dir.path(), config).with_signing_key_pem(key_pem()),
        )
        .unwrap();
        Self {
            app: hashgate_idp::app(state.clone()),
            state,
            dir,
        }
    }

    /// A new provider on the same data directory (a restart).
    pub fn restart(self) -> Self {
        let config = self.state.config().clone();
        let state = AppState::new(Settings::new(ISSUER, self.dir.path(), config)).unwrap();
        Self {
            app: hashgate_idp::app(state.clone()),
            state,
            dir: self.dir,
        }
    }

    pub fn browser(&self) -> Browser {
        Browser {
            app: self.app.clone(),
            jar: HashMap::new(),
            set_cookies: Vec::new(),
            peer: None,
            forwarded_for: None,
        }
    }

    /// A browser in which Alice has logged in to the demo SPA and consented: it holds her
    /// provider session.
    pub async fn alice_signed_in(&self) -> Browser {
        let mut b = self.browser();
        b.log_in(&spa_params(&[]), "alice", "alice-password").await;
        b
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        send(&self.app, req).await
    }

    pub async fn get(&self, uri: &str) -> Resp {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    pub fn location(&self) -> String {
        self.header("location")
            .unwrap_or_else(|| panic!("no location; status {} body {}", self.status, self.body))
    }

    /// The parameters in the Location header's fragment.
    pub fn fragment(&self) -> HashMap<String, String> {
        let loc = self.location();
        let (_, frag) = loc
            .split_once('#')
            .unwrap_or_else(|| panic!("no fragment in {loc}"));
        url::form_urlencoded::parse(frag.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// The value of a hidden input in the page.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }

    /// The JSON of a web_message page.
    pub fn web_message(&self) -> serde_json::Value {
        let marker = "id=\"authorization-response\">";
        let start = self.body.find(marker).expect("no web_message json") + marker.len();
        let end = self.body[start..].find("</script>").unwrap() + start;
        serde_json::from_str(&self.body[start..end]).unwrap()
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> Resp {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Builds `/authorize?...`.
pub fn authorize_uri(params: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    format!("/authorize?{}", ser.finish())
}

/// A typical SPA request: id_token token, profile, email and both API scopes.
pub fn spa_params<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("client_id", CLIENT),
        ("redirect_uri", CALLBACK),
        ("response_type", "id_token token"),
        ("scope", "openid profile email read:messages write:messages"),
        ("audience", API),
        ("nonce", "n-0S6_WzA2Mj"),
        ("state", "af0ifjsldkj"),
    ];
    for (k, v) in extra {
        p.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            p.push((k, v));
        }
    }
    p
}

/// What a browser sends with a form post from one of the provider's own pages.
pub const SAME_ORIGIN: &[(&str, &str)] = &[
    ("origin", "http://localhost:3000"),
    ("sec-fetch-site", "same-origin"),
];

/// A client that keeps cookies and sends what a browser sends with form posts.
pub struct Browser {
    pub app: Router,
    pub jar: HashMap<String, String>,
    /// Every Set-Cookie header seen, in order.
    pub set_cookies: Vec<String>,
    /// The address the requests come from, as the server's connection info says
    /// (`None`: no connection info, as with plain `oneshot`).
    pub peer: Option<SocketAddr>,
    /// `X-Forwarded-For` sent with every request (see [`Browser::via_proxy`]).
    pub forwarded_for: Option<String>,
}

/// Marks `req` as arriving from `peer`, as `serve` does for a real connection.
pub fn from_peer(mut req: Request<Body>, peer: Option<SocketAddr>) -> Request<Body> {
    if let Some(peer) = peer {
        req.extensions_mut().insert(ConnectInfo(peer));
    }
    req
}

impl Browser {
    /// The same browser, its requests arriving from `ip`.
    pub fn at_ip(mut self, ip: &str) -> Self {
        self.peer = Some(SocketAddr::new(ip.parse().unwrap(), 50_000));
        self
    }

    /// The same browser behind the proxy at `proxy`, which reports it as `client` in
    /// `X-Forwarded-For` (the provider believes it when `proxy` is a trusted proxy).
    pub fn via_proxy(mut self, proxy: &str, client: &str) -> Self {
        self = self.at_ip(proxy);
        self.forwarded_for = Some(client.to_owned());
        self
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn run(&mut self, mut req: Request<Body>) -> Resp {
        if let Some(client) = &self.forwarded_for {
            req.headers_mut()
                .insert("x-forwarded-for", client.parse().unwrap());
        }
        let res = send(&self.app, from_peer(req, self.peer)).await;
        for v in res.headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap().to_owned();
            let (pair, attrs) = v.split_once(';').unwrap_or((&v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
            self.set_cookies.push(v.clone());
        }
        res
    }

    pub async fn get(&mut self, uri: &str) -> Resp {
        let uri = uri
            .strip_prefix("http://localhost:3000")
            .unwrap_or(uri)
            .to_owned();
        let req = Request::get(uri)
            .header(header::COOKIE, self.cookie_header())
            .body(Body::empty())
            .unwrap();
        self.run(req).await
    }

    /// A same-origin form post, as the browser sends it from our pages.
    pub async fn post(&mut self, uri: &str, form: &[(&str, &str)]) -> Resp {
        self.post_with(uri, form, SAME_ORIGIN).await
    }

    pub async fn post_with(
        &mut self,
        uri: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let req = self.form_request(uri, form, headers);
        self.run(req).await
    }

    /// A form post with this browser's cookies and peer, to send as often as needed.
    pub fn form_request(
        &self,
        uri: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Request<Body> {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            ser.append_pair(k, v);
        }
        let mut req = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, self.cookie_header());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        from_peer(req.body(Body::from(ser.finish())).unwrap(), self.peer)
    }

    /// The login form of `page` filled in, as a same-origin post.
    pub fn login_request(&self, page: &Resp, username: &str, password: &str) -> Request<Body> {
        let (tx, csrf) = (page.hidden("tx"), page.hidden("csrf"));
        self.form_request(
            "/login",
            &[
                ("tx", &tx),
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
            SAME_ORIGIN,
        )
    }

    /// Starts an authorization and follows to the login page.
    pub async fn login_page(&mut self, params: &[(&str, &str)]) -> Resp {
        let res = self.get(&authorize_uri(params)).await;
        assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
        let loc = res.location();
        assert!(loc.starts_with("/login?tx="), "{loc}");
        let page = self.get(&loc).await;
        assert_eq!(page.status, StatusCode::OK);
        page
    }

    /// Submits the login form on `page`.
    pub async fn submit_login(&mut self, page: &Resp, username: &str, password: &str) -> Resp {
        let req = self.login_request(page, username, password);
        self.run(req).await
    }

    /// Answers the consent page that `res` redirects to.
    pub async fn consent(&mut self, res: &Resp, decision: &str) -> Resp {
        let loc = res.location();
        assert!(loc.starts_with("/consent?tx="), "{loc}");
        let page = self.get(&loc).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let (tx, csrf) = (page.hidden("tx"), page.hidden("csrf"));
        self.post(
            "/consent",
            &[("tx", &tx), ("csrf", &csrf), ("decision", decision)],
        )
        .await
    }

    /// A full interactive login with consent allowed; returns the final redirect.
    pub async fn log_in(
        &mut self,
        params: &[(&str, &str)],
        username: &str,
        password: &str,
    ) -> Resp {
        let page = self.login_page(params).await;
        let res = self.submit_login(&page, username, password).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        if res.location().starts_with("/consent") {
            self.consent(&res, "allow").await
        } else {
            res
        }
    }
}

/// Verifies a JWT with jsonwebtoken against the provider's published JWKS.
pub async fn verify(idp: &Idp, token: &str, audience: &str) -> serde_json::Value {
    let jwks = idp.get("/.well-known/jwks.json").await.json();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let kid = header.kid.expect("kid set");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("kid in jwks");
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[audience]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
        .unwrap()
        .claims
}

/// RFC 7636 Appendix B: a code verifier and the S256 challenge it answers.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A typical SPA code request: PKCE with the RFC 7636 vector, `offline_access`,
/// profile, email and both API scopes.
pub fn code_params<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p = spa_params(&[
        ("response_type", "code"),
        (
            "scope",
            "openid profile email offline_access read:messages write:messages",
        ),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    for (k, v) in extra {
        p.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            p.push((k, v));
        }
    }
    p
}

impl Resp {
    /// The parameters in the Location header's query.
    pub fn query(&self) -> HashMap<String, String> {
        let loc = self.location();
        let url = url::Url::parse(&loc).unwrap_or_else(|e| panic!("{loc}: {e}"));
        assert!(url.fragment().is_none(), "a fragment in {loc}");
        url.query_pairs().into_owned().collect()
    }
}

impl Browser {
    /// Logs in with a code request and returns the code from the redirect's query.
    pub async fn code(&mut self, params: &[(&str, &str)], user: (&str, &str)) -> String {
        let res = self.log_in(params, user.0, user.1).await;
        let q = res.query();
        q.get("code")
            .unwrap_or_else(|| panic!("no code in {q:?}"))
            .clone()
    }
}

/// The provider's router served on a real socket (the same state as `Idp::app`), for
/// the endpoints a browser calls with `fetch`: what goes over the wire is what counts.
pub struct Http {
    pub base: String,
    pub client: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Http {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Idp {
    pub async fn http(&self) -> Http {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = self.app.clone();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Http {
            base,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            task,
        }
    }
}

impl Http {
    /// Sends `req` and reads the whole answer.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.text().await.unwrap();
        Resp {
            status,
            headers,
            body,
        }
    }

    /// A form post to `path` with extra headers.
    pub async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            ser.append_pair(k, v);
        }
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(ser.finish());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    /// `POST /oauth/token` as an app's `fetch` from `http://localhost:8080` sends it.
    pub async fn token(&self, form: &[(&str, &str)]) -> Resp {
        self.post_with("/oauth/token", form, &[("origin", "http://localhost:8080")])
            .await
    }

    /// Redeems `code` with the RFC 7636 verifier and the demo callback.
    pub async fn exchange(&self, code: &str) -> Resp {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CALLBACK),
        ])
        .await
    }

    /// Exchanges a refresh token of the demo client.
    pub async fn refresh(&self, refresh_token: &str) -> Resp {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT),
            ("refresh_token", refresh_token),
        ])
        .await
    }
}

/// An RFC 6749 §5.2 error answer: its status, its `error`, no token, not cached.
pub fn assert_oauth_error(res: &Resp, status: u16, error: &str) {
    assert_eq!(res.status.as_u16(), status, "{}", res.body);
    let body = res.json();
    assert_eq!(body["error"], error, "{}", res.body);
    assert!(body["error_description"].is_string(), "{}", res.body);
    for field in ["access_token", "id_token", "refresh_token"] {
        assert!(
            body.get(field).is_none(),
            "{field} in an error: {}",
            res.body
        );
    }
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    assert!(res
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
}

/// A successful token answer, as JSON, after checking RFC 6749 §5.1's headers.
pub fn token_json(res: &Resp) -> serde_json::Value {
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(res.header("pragma").as_deref(), Some("no-cache"));
    res.json()
}
