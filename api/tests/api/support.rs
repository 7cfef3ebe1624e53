//! Test support: RSA keys, token minting, DPoP client keys and proofs, a fake OpenID provider
//! on 127.0.0.1:0, and a harness that drives the API's router with `oneshot`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hashgate_api::{app, AppState, Settings};
use http_body_util::BodyExt as _;
use rsa::pkcs1v15::SigningKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::traits::PublicKeyParts as _;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use tower::ServiceExt as _;

/// The audience the API under test is configured with.
pub const AUDIENCE: &str = "https://api.hashgate.local";
/// The SPA's client id (the `aud` of its ID tokens).
pub const CLIENT_ID: &str = "hashgate-spa";
/// An origin the API allows.
pub const ALLOWED_ORIGIN: &str = "http://localhost:8080";
/// The `Host` the `oneshot` DPoP requests are sent to.
pub const API_HOST: &str = "127.0.0.1:3001";

/// A DPoP client key (ES256, P-256), as a browser's WebCrypto would hold it.
pub struct DpopKey {
    signing: p256::ecdsa::SigningKey,
}

impl DpopKey {
    pub fn generate() -> Self {
        Self {
            signing: p256::ecdsa::SigningKey::random(&mut rand::thread_rng()),
        }
    }

    /// The public key as the proof's `jwk` (RFC 9449 §4.2).
    pub fn jwk(&self) -> Value {
        let point = self.signing.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        })
    }

    /// The public key with its private scalar `d`: what a proof must never carry.
    pub fn private_jwk(&self) -> Value {
        let mut jwk = self.jwk();
        jwk["d"] = json!(URL_SAFE_NO_PAD.encode(self.signing.to_bytes()));
        jwk
    }

    /// RFC 7638 thumbprint: base64url(SHA-256) of the required members in order.
    pub fn thumbprint(&self) -> String {
        use sha2::Digest as _;
        let jwk = self.jwk();
        let input = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(input.as_bytes()))
    }

    /// Signs `header` and `claims` exactly as given, with ES256 (r || s, RFC 7518 §3.4).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        use p256::ecdsa::signature::Signer as _;
        let input = format!("{}.{}", b64_json(header), b64_json(claims));
        let signature: p256::ecdsa::Signature = self.signing.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// The header of a good proof.
    pub fn header(&self) -> Value {
        json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk() })
    }

    /// The claims of a good proof for `method` `htu`, presenting `token`.
    pub fn claims(method: &str, htu: &str, token: &str) -> Value {
        json!({
            "jti": URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
            "htm": method,
            "htu": htu,
            "iat": now(),
            "ath": ath(token),
        })
    }

    /// A good proof for `method` `htu`, presenting `token`.
    pub fn proof(&self, method: &str, htu: &str, token: &str) -> String {
        self.sign(&self.header(), &Self::claims(method, htu, token))
    }
}

/// `ath`: base64url(SHA-256(access token)) (RFC 9449 §4.2).
pub fn ath(token: &str) -> String {
    use sha2::Digest as _;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The URL of `path` on the `oneshot` API ([`API_HOST`]).
pub fn htu(path: &str) -> String {
    format!("http://{API_HOST}{path}")
}

/// An RSA signing key with its `kid`.
pub struct TestKey {
    pub kid: &'static str,
    pub private: RsaPrivateKey,
}

fn generate(kid: &'static str) -> TestKey {
    let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("rsa keygen");
    TestKey { kid, private }
}

/// The provider's first key.
pub static KEY_A: LazyLock<TestKey> = LazyLock::new(|| generate("key-a"));
/// The provider's key after rotation.
pub static KEY_B: LazyLock<TestKey> = LazyLock::new(|| generate("key-b"));
/// A key the provider never publishes (an attacker's).
pub static KEY_EVIL: LazyLock<TestKey> = LazyLock::new(|| generate("key-evil"));

impl TestKey {
    /// The public key as a JWK, as a provider publishes it.
    pub fn jwk(&self) -> Value {
        let public = self.private.to_public_key();
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    /// The public key as PEM (SPKI), the bytes an HS256 key-confusion attack uses.
    pub fn public_pem(&self) -> String {
        use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
        self.private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    }

    /// Signs `header` and `claims` exactly as given, with RS256.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64_json(header), b64_json(claims));
        let signature = SigningKey::<Sha256>::new(self.private.clone()).sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// A normal RS256 access token with this key's `kid`.
    pub fn mint(&self, claims: &Value) -> String {
        self.sign(
            &json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid }),
            claims,
        )
    }
}

/// base64url(JSON) without padding.
pub fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims of a valid access token from `issuer` for `sub`, granting `scope`.
pub fn access_claims(issuer: &str, sub: &str, scope: &str) -> Value {
    json!({
        "iss": issuer,
        "sub": sub,
        "aud": [AUDIENCE, format!("{issuer}userinfo")],
        "azp": CLIENT_ID,
        "iat": now(),
        "exp": now() + 600,
        "scope": scope,
    })
}

/// What the fake provider serves and counts.
#[derive(Default)]
pub struct ProviderState {
    pub issuer: Mutex<String>,
    /// When set, discovery names this issuer instead of the real one.
    pub claimed_issuer: Mutex<Option<String>>,
    /// When set, discovery names this `jwks_uri` instead of the real one.
    pub claimed_jwks_uri: Mutex<Option<String>>,
    pub jwks: Mutex<Vec<Value>>,
    pub down: AtomicBool,
    pub jwks_delay_ms: AtomicU64,
    /// When set, the JWKS is served with this `Cache-Control`.
    pub cache_control: Mutex<Option<String>>,
    pub jwks_hits: AtomicUsize,
    pub discovery_hits: AtomicUsize,
    /// Hits on URLs an attacker would put in `jku`/`x5u`.
    pub elsewhere_hits: AtomicUsize,
}

/// A fake OpenID provider on 127.0.0.1:0 serving discovery and a JWKS.
#[derive(Clone)]
pub struct FakeProvider {
    pub issuer: String,
    pub state: Arc<ProviderState>,
}

impl FakeProvider {
    /// Starts a provider publishing `keys`.
    pub async fn start(keys: &[&TestKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}/", listener.local_addr().unwrap());
        let state = Arc::new(ProviderState::default());
        *state.issuer.lock().unwrap() = issuer.clone();
        let provider = Self { issuer, state };
        provider.publish(keys);
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks.json", get(jwks))
            .route("/elsewhere/{*rest}", get(elsewhere))
            .with_state(Arc::clone(&provider.state));
        tokio::spawn(async move { axum::serve(listener, router).await });
        provider
    }

    /// Replaces the published keys (rotation).
    pub fn publish(&self, keys: &[&TestKey]) {
        self.publish_entries(keys.iter().map(|k| k.jwk()).collect());
    }

    /// Replaces the published JWKS entries with exactly these, well-formed or not.
    pub fn publish_entries(&self, entries: Vec<Value>) {
        *self.state.jwks.lock().unwrap() = entries;
    }

    /// Makes every endpoint answer 503 (`true`) or work again (`false`).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Delays JWKS answers, so concurrent requests overlap with one fetch.
    pub fn set_jwks_delay(&self, delay: Duration) {
        self.state
            .jwks_delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Serves the JWKS with this `Cache-Control` header.
    pub fn set_cache_control(&self, value: &str) {
        *self.state.cache_control.lock().unwrap() = Some(value.to_owned());
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    pub fn elsewhere_hits(&self) -> usize {
        self.state.elsewhere_hits.load(Ordering::SeqCst)
    }

    /// A valid access token for `sub` granting `scope`, signed with `key`.
    pub fn token(&self, key: &TestKey, sub: &str, scope: &str) -> String {
        key.mint(&access_claims(&self.issuer, sub, scope))
    }

    /// A valid access token bound to the DPoP key with thumbprint `jkt` (RFC 9449 §6.1).
    pub fn bound_token(&self, key: &TestKey, sub: &str, scope: &str, jkt: &str) -> String {
        let mut claims = access_claims(&self.issuer, sub, scope);
        claims["cnf"] = json!({ "jkt": jkt });
        key.mint(&claims)
    }
}

async fn discovery(State(state): State<Arc<ProviderState>>) -> Response {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if state.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let issuer = state.issuer.lock().unwrap().clone();
    let claimed = state.claimed_issuer.lock().unwrap().clone();
    let jwks_uri = state.claimed_jwks_uri.lock().unwrap().clone();
    Json(json!({
        "issuer": claimed.unwrap_or_else(|| issuer.clone()),
        "authorization_endpoint": format!("{issuer}authorize"),
        "jwks_uri": jwks_uri.unwrap_or_else(|| format!("{issuer}.well-known/jwks.json")),
        "response_types_supported": ["id_token token", "id_token"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn jwks(State(state): State<Arc<ProviderState>>) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let delay = state.jwks_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if state.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = state.jwks.lock().unwrap().clone();
    let mut response = Json(json!({ "keys": keys })).into_response();
    if let Some(value) = state.cache_control.lock().unwrap().as_deref() {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, value.parse().unwrap());
    }
    response
}

async fn elsewhere(State(state): State<Arc<ProviderState>>) -> Json<Value> {
    state.elsewhere_hits.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = vec![KEY_EVIL.jwk()];
    Json(json!({ "keys": keys }))
}

/// What the code under test logs on the current thread while the guard of [`Logs::capture`]
/// lives. `#[tokio::test]` runs the test, the API and the fake provider on one thread, so
/// that is everything they log, and nothing from the tests running beside it.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// How many times `text` was logged.
    pub fn count(&self, text: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .matches(text)
            .count()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A fresh, unique data directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "hashgate-api-test-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Settings for an API trusting `issuer`, storing in `dir`, refetching keys without delay.
pub fn settings(issuer: &str, dir: &Path) -> Settings {
    let mut settings = Settings::new(issuer, AUDIENCE, dir);
    settings.allowed_origins = vec![ALLOWED_ORIGIN.to_owned()];
    settings.jwks_min_refresh_interval = Duration::ZERO;
    settings.http_timeout = Duration::from_secs(5);
    settings
}

/// The API under test (router only, driven with `oneshot`) and its provider.
pub struct TestApi {
    pub router: Router,
    pub provider: FakeProvider,
    /// The API's data directory, removed when the test ends (held for its `Drop`).
    _dir: TempDir,
}

/// An answer of the API, body parsed as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn challenge(&self) -> &str {
        self.header("www-authenticate").unwrap_or("")
    }

    /// Asserts the answer mentions no part of `token` (RFC 6750 §5.3: never echo it).
    pub fn assert_no_echo(&self, token: &str) {
        let signature = token.rsplit('.').next().unwrap_or(token);
        for part in [token, signature] {
            if part.len() >= 8 {
                assert!(!self.raw.contains(part), "the body echoes the token");
                for (name, value) in &self.headers {
                    assert!(
                        !value.to_str().unwrap_or("").contains(part),
                        "header {name} echoes the token"
                    );
                }
            }
        }
    }
}

impl TestApi {
    /// A provider publishing KEY_A and an API trusting it.
    pub async fn start() -> Self {
        let provider = FakeProvider::start(&[&KEY_A]).await;
        Self::with_provider(provider, |_| {}).await
    }

    /// An API trusting `provider`, with `adjust` applied to its settings.
    pub async fn with_provider(provider: FakeProvider, adjust: impl FnOnce(&mut Settings)) -> Self {
        let dir = TempDir::new();
        let mut settings = settings(&provider.issuer, dir.path());
        adjust(&mut settings);
        let router = app(AppState::new(settings).unwrap());
        Self {
            router,
            provider,
            _dir: dir,
        }
    }

    /// A valid token for `sub` with `scope`, signed with KEY_A.
    pub fn token(&self, sub: &str, scope: &str) -> String {
        self.provider.token(&KEY_A, sub, scope)
    }

    /// A valid token for `sub` with `scope` bound to `key`, signed with KEY_A.
    pub fn bound_token(&self, sub: &str, scope: &str, key: &DpopKey) -> String {
        self.provider
            .bound_token(&KEY_A, sub, scope, &key.thumbprint())
    }

    /// `GET path` on [`API_HOST`] with `Authorization: DPoP token` and `DPoP: proof`.
    pub async fn get_dpop(&self, path: &str, token: &str, proof: &str) -> Answer {
        self.send(dpop_request("GET", path, token, &[proof])).await
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        send(&self.router, request).await
    }

    /// `GET path` with `Authorization: Bearer token`.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(get_with(path, &format!("Bearer {token}"))).await
    }

    /// `POST /api/messages` with a JSON body.
    pub async fn post_message(&self, token: &str, body: &Value) -> Answer {
        self.send(post_json(token, body)).await
    }

    /// `GET /api/private` once per token, all at the same time (each on its own task), and
    /// the statuses in the order of `tokens`.
    pub async fn get_private_concurrently(&self, tokens: Vec<String>) -> Vec<StatusCode> {
        let requests: Vec<_> = tokens
            .into_iter()
            .map(|token| {
                let router = self.router.clone();
                tokio::spawn(async move {
                    send(
                        &router,
                        get_with("/api/private", &format!("Bearer {token}")),
                    )
                    .await
                    .status
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for request in requests {
            statuses.push(request.await.unwrap());
        }
        statuses
    }
}

/// `method path` on [`API_HOST`] with `Authorization: DPoP token` and one `DPoP` header per
/// proof.
pub fn dpop_request(method: &str, path: &str, token: &str, proofs: &[&str]) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", API_HOST)
        .header("authorization", format!("DPoP {token}"));
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    request.body(Body::empty()).unwrap()
}

pub fn get_with(path: &str, authorization: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", authorization)
        .body(Body::empty())
        .unwrap()
}

pub fn post_json(token: &str, body: &Value) -> Request<Body> {
    Request::post("/api/messages")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

pub async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let raw = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        raw,
    }
}

/// The exact challenge for an `invalid_token` answer with `description`.
pub fn invalid_token_challenge(description: &str) -> String {
    format!(
        "Bearer realm=\"hashgate-api\", error=\"invalid_token\", error_description=\"{description}\""
    )
}

/// Asserts a 401 `invalid_token` with a JSON body, a matching challenge and no echo.
pub fn assert_invalid_token(answer: &Answer, token: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(answer.body["error"], "invalid_token", "{answer:?}");
    let description = answer.body["error_description"].as_str().unwrap();
    assert_eq!(answer.challenge(), invalid_token_challenge(description));
    answer.assert_no_echo(token);
}

/// Asserts a 400 `invalid_request` with a JSON body and a matching challenge.
pub fn assert_invalid_request(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
    assert_eq!(answer.body["error"], "invalid_request", "{answer:?}");
    let description = answer.body["error_description"].as_str().unwrap();
    assert_eq!(
        answer.challenge(),
        format!(
            "Bearer realm=\"hashgate-api\", error=\"invalid_request\", error_description=\"{description}\""
        )
    );
}
