//! The thin browser shell: fetch, JSON, WebCrypto, history and storage. No protocol decisions here.

use hashgate_protocol::{FromJson, Json, RsaPublicJwk, ToJson};
use js_sys::{Object, Reflect, Uint8Array, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::error::AuthError;

/// The browser's `window`; absent only outside a page (e.g. in a worker).
pub fn window() -> Result<web_sys::Window, AuthError> {
    web_sys::window().ok_or(AuthError::Browser("no window object"))
}

/// Seconds since the Unix epoch by the browser's clock.
pub fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// 32 bytes from the browser's CSPRNG (`crypto.getRandomValues`).
pub fn random_32() -> Result<[u8; 32], AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|_| AuthError::Browser("no secure random number generator"))?;
    Ok(bytes)
}

/// Parses JSON text with the browser's own parser into `T`; the error names the member at fault.
pub fn parse_json<T: FromJson>(text: &str) -> Result<T, String> {
    parse_json_value(text)
        .and_then(|value| T::from_json(&value))
        .map_err(|e| e.to_string())
}

/// Parses JSON text with the browser's own parser into an untyped [`Json`] value.
pub fn parse_json_value(text: &str) -> Result<Json, hashgate_protocol::JsonError> {
    super::json::parse(text)
}

/// `value` as compact JSON text.
pub fn to_json<T: ToJson + ?Sized>(value: &T) -> String {
    value.to_json().to_text()
}

/// Re-indents JSON text for display; returns the input unchanged if it is not JSON.
pub fn pretty_json(text: &str) -> String {
    JSON::parse(text)
        .ok()
        .and_then(|v| {
            JSON::stringify_with_replacer_and_space(&v, &JsValue::NULL, &JsValue::from(2)).ok()
        })
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| text.to_string())
}

/// GETs `url` and parses its JSON body; `what` names the document in error messages. With
/// `revalidate` the browser's HTTP cache must check with the server first (a JWKS refetched
/// for an unknown `kid` must not come back stale from the cache). Not generic: read the
/// result with [`read_document`], so this state machine is compiled once.
pub async fn fetch_document(
    url: &str,
    what: &'static str,
    revalidate: bool,
) -> Result<Json, AuthError> {
    let request = HttpRequest {
        cache: revalidate.then_some(web_sys::RequestCache::NoCache),
        ..HttpRequest::get(url)
    };
    let response = fetch(&request, what).await?;
    if !(200..300).contains(&response.status) {
        return Err(AuthError::BadDocument {
            what,
            reason: format!("the server answered HTTP {}", response.status),
        });
    }
    parse_json_value(&response.text).map_err(|e| AuthError::BadDocument {
        what,
        reason: e.to_string(),
    })
}

/// Reads a fetched document as `T`; the error names the document and the member at fault.
pub fn read_document<T: FromJson>(document: &Json, what: &'static str) -> Result<T, AuthError> {
    T::from_json(document).map_err(|e| AuthError::BadDocument {
        what,
        reason: e.to_string(),
    })
}

/// POSTs a form (`application/x-www-form-urlencoded`) to `url` and returns the status and the
/// body text. For the token and revocation endpoints: no cookies, no HTTP cache, and a
/// redirect is an error (an endpoint that redirects is not answering).
pub async fn post_form(
    url: &str,
    body: String,
    what: &'static str,
) -> Result<(u16, String), AuthError> {
    let request = HttpRequest {
        method: "POST",
        body: Some(("application/x-www-form-urlencoded", &body)),
        cache: Some(web_sys::RequestCache::NoStore),
        endpoint: true,
        ..HttpRequest::get(url)
    };
    let response = fetch(&request, what).await?;
    Ok((response.status, response.text))
}

/// One HTTP request for [`fetch`]. No `Debug`: it may carry a bearer token.
#[derive(Clone, Copy)]
pub struct HttpRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The absolute URL.
    pub url: &'a str,
    /// Sent as `Authorization: Bearer …` (RFC 6750 §2.1).
    pub bearer: Option<&'a str>,
    /// A body and its `Content-Type`.
    pub body: Option<(&'a str, &'a str)>,
    /// How the browser's HTTP cache may answer (`None`: as it likes).
    pub cache: Option<web_sys::RequestCache>,
    /// An OAuth endpoint of the provider: no cookies, JSON accepted, and a redirect is an
    /// error rather than followed.
    pub endpoint: bool,
}

impl<'a> HttpRequest<'a> {
    /// A plain `GET` of `url`.
    pub fn get(url: &'a str) -> Self {
        HttpRequest {
            method: "GET",
            url,
            bearer: None,
            body: None,
            cache: None,
            endpoint: false,
        }
    }
}

/// What [`fetch`] read of an answer. No `Debug`: a token endpoint's answer carries tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `WWW-Authenticate` header, when the server exposes it (RFC 6750 §3).
    pub www_authenticate: Option<String>,
    /// The body as text.
    pub text: String,
}

/// The one `fetch()` of the app: every document, endpoint and API call goes through it, so its
/// code is compiled once. A request that could not be sent, or whose answer could not be read,
/// is [`AuthError::Unreachable`] naming `what`.
pub async fn fetch(
    request: &HttpRequest<'_>,
    what: &'static str,
) -> Result<HttpResponse, AuthError> {
    send(request).await.ok_or_else(|| AuthError::Unreachable {
        what,
        url: request.url.to_string(),
    })
}

async fn send(request: &HttpRequest<'_>) -> Option<HttpResponse> {
    let init = web_sys::RequestInit::new();
    init.set_method(request.method);
    if let Some(cache) = request.cache {
        init.set_cache(cache);
    }
    let headers = web_sys::Headers::new().ok()?;
    if let Some(token) = request.bearer {
        let mut value = String::from("Bearer ");
        value.push_str(token);
        headers.set("Authorization", &value).ok()?;
    }
    if let Some((content_type, body)) = request.body {
        headers.set("Content-Type", content_type).ok()?;
        init.set_body(&JsValue::from_str(body));
    }
    if request.endpoint {
        headers.set("Accept", "application/json").ok()?;
        init.set_credentials(web_sys::RequestCredentials::Omit);
        init.set_redirect(web_sys::RequestRedirect::Error);
    }
    init.set_headers(&headers);
    let promise = web_sys::window()?.fetch_with_str_and_init(request.url, &init);
    let response: web_sys::Response = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    let www_authenticate = response.headers().get("www-authenticate").ok().flatten();
    let text = JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()?;
    Some(HttpResponse {
        status: response.status(),
        www_authenticate,
        text,
    })
}

/// Resolves after `ms` milliseconds (a timer of the browser's event loop).
pub async fn sleep_ms(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                i32::try_from(ms).unwrap_or(i32::MAX),
            );
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Runs `work` while holding the app-wide lock `name` (Web Locks API, `navigator.locks`): one
/// holder at a time across every tab of this origin. Where the browser lacks Web Locks (or
/// refuses the request), a lease in `localStorage` stands in for it.
pub async fn with_lock<F, Fut, T>(name: &str, work: F) -> T
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let held = match acquire_web_lock(name).await {
        Some(release) => Held::WebLock(release),
        None => Held::Lease(StorageLease::acquire(name).await),
    };
    // One await of `work`, so its state machine is polled (and compiled) in one place.
    let value = work().await;
    match held {
        Held::WebLock(release) => {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
        Held::Lease(lease) => lease.release(),
    }
    value
}

/// A lock [`with_lock`] holds: a Web Lock (released by calling its function) or a lease.
enum Held {
    WebLock(js_sys::Function),
    Lease(StorageLease),
}

/// Waits for the Web Lock `name`; returns the function that releases it, or `None` when the
/// browser has no Web Locks or refused the request.
async fn acquire_web_lock(name: &str) -> Option<js_sys::Function> {
    use futures::future::{select, Either};
    use std::cell::RefCell;
    use std::rc::Rc;

    let (locks, request) = web_locks()?;
    // The lock is held until the promise the callback returns settles: `held`, which only
    // `release` settles.
    let mut release = None;
    let held = js_sys::Promise::new(&mut |resolve, _| release = Some(resolve));
    let release = release?;
    let (granted_tx, granted_rx) = futures::channel::oneshot::channel::<()>();
    let granted_tx = Rc::new(RefCell::new(Some(granted_tx)));
    let callback = wasm_bindgen::closure::Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(
        move |_lock: JsValue| {
            if let Some(tx) = granted_tx.borrow_mut().take() {
                let _ = tx.send(());
            }
            held.clone()
        },
    );
    let requested = request
        .call2(&locks, &JsValue::from_str(name), callback.as_ref())
        .ok()?
        .dyn_into::<js_sys::Promise>()
        .ok()?;
    // The request's own promise settles only after the lock is released, or at once when the
    // browser refuses it.
    let outcome = select(granted_rx, JsFuture::from(requested)).await;
    // The callback has run (or, the request refused, never will): the closure may go.
    drop(callback);
    match outcome {
        Either::Left((Ok(()), _)) => Some(release),
        _ => None,
    }
}

/// `navigator.locks` and its `request` method, where the browser has them.
fn web_locks() -> Option<(JsValue, js_sys::Function)> {
    let locks = Reflect::get(&web_sys::window()?.navigator(), &"locks".into()).ok()?;
    if !locks.is_object() {
        return None;
    }
    let request = Reflect::get(&locks, &"request".into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    Some((locks, request))
}

/// A lock for browsers without Web Locks: a lease (`owner until`) in `localStorage` that a
/// tab takes when it is free or expired, then reads back to see it won.
struct StorageLease {
    key: String,
    owner: String,
}

impl StorageLease {
    /// How long a lease lasts if its holder never releases it (a closed tab).
    const TTL_MS: f64 = 15_000.0;

    async fn acquire(name: &str) -> StorageLease {
        let key = format!("hashgate.lock.{name}");
        let owner = random_32()
            .map(|bytes| hashgate_protocol::State::from_random(&bytes).into_secret())
            // Whole milliseconds: `f64`'s Display would bring float formatting into the download.
            .unwrap_or_else(|_| (js_sys::Date::now() as u64).to_string());
        let deadline = js_sys::Date::now() + Self::TTL_MS;
        loop {
            let now = js_sys::Date::now();
            let held = storage_get(Area::Local, &key)
                .and_then(|v| hashgate_protocol::lease::holder(&v, now).map(str::to_owned));
            if held.is_none() || now > deadline {
                let lease = hashgate_protocol::lease::format(&owner, now + Self::TTL_MS);
                let _ = storage_set(Area::Local, &key, &lease);
                // Another tab may have written at the same moment: the last write wins.
                sleep_ms(30).await;
                let winner = storage_get(Area::Local, &key).and_then(|v| {
                    hashgate_protocol::lease::holder(&v, js_sys::Date::now()).map(str::to_owned)
                });
                if winner.as_deref() == Some(owner.as_str()) || now > deadline {
                    return StorageLease { key, owner };
                }
            }
            sleep_ms(100).await;
        }
    }

    fn release(self) {
        let now = js_sys::Date::now();
        let mine = storage_get(Area::Local, &self.key).is_some_and(|v| {
            hashgate_protocol::lease::holder(&v, now) == Some(self.owner.as_str())
        });
        if mine {
            storage_remove(Area::Local, &self.key);
        }
    }
}

/// Verifies an RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature with WebCrypto.
pub async fn verify_rs256(
    key: &RsaPublicJwk,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<bool, AuthError> {
    let subtle = subtle()?;
    let jwk = Object::new();
    set(&jwk, "kty", "RSA")?;
    set(&jwk, "n", &key.n)?;
    set(&jwk, "e", &key.e)?;
    set(&jwk, "alg", "RS256")?;
    set(&jwk, "ext", true)?;
    let algorithm = Object::new();
    set(&algorithm, "name", "RSASSA-PKCS1-v1_5")?;
    let hash = Object::new();
    set(&hash, "name", "SHA-256")?;
    Reflect::set(&algorithm, &"hash".into(), &hash).map_err(|_| AuthError::Browser("webcrypto"))?;
    let usages = js_sys::Array::of1(&"verify".into());
    let promise = subtle
        .import_key_with_object("jwk", &jwk, &algorithm, false, &usages)
        .map_err(|_| AuthError::UnusableKey)?;
    let crypto_key: web_sys::CryptoKey = JsFuture::from(promise)
        .await
        .map_err(|_| AuthError::UnusableKey)?
        .dyn_into()
        .map_err(|_| AuthError::UnusableKey)?;
    let promise = subtle
        .verify_with_str_and_u8_array_and_u8_array(
            "RSASSA-PKCS1-v1_5",
            &crypto_key,
            signature,
            signing_input,
        )
        .map_err(|_| AuthError::Browser("webcrypto verify"))?;
    let verdict = JsFuture::from(promise)
        .await
        .map_err(|_| AuthError::Browser("webcrypto verify"))?;
    Ok(verdict.as_bool() == Some(true))
}

/// SHA-256 of `data` with WebCrypto.
pub async fn sha256(data: &[u8]) -> Result<Vec<u8>, AuthError> {
    let promise = subtle()?
        .digest_with_str_and_u8_array("SHA-256", data)
        .map_err(|_| AuthError::Browser("webcrypto digest"))?;
    let buffer = JsFuture::from(promise)
        .await
        .map_err(|_| AuthError::Browser("webcrypto digest"))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

fn subtle() -> Result<web_sys::SubtleCrypto, AuthError> {
    Ok(window()?
        .crypto()
        .map_err(|_| {
            AuthError::Browser("no WebCrypto (the app must be served over https or from localhost)")
        })?
        .subtle())
}

fn set(target: &Object, key: &str, value: impl Into<JsValue>) -> Result<(), AuthError> {
    Reflect::set(target, &key.into(), &value.into())
        .map(|_| ())
        .map_err(|_| AuthError::Browser("webcrypto"))
}

/// The parts of the page's address the auth module reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// `#…` (with the `#`), or empty.
    pub hash: String,
    /// The path, e.g. `/callback`.
    pub pathname: String,
    /// `?…` (with the `?`), or empty.
    pub search: String,
    /// `scheme://host[:port]`.
    pub origin: String,
}

/// The page's current address.
pub fn location() -> Result<Location, AuthError> {
    let location = window()?.location();
    let get =
        |r: Result<String, JsValue>| r.map_err(|_| AuthError::Browser("cannot read the location"));
    Ok(Location {
        hash: get(location.hash())?,
        pathname: get(location.pathname())?,
        search: get(location.search())?,
        origin: get(location.origin())?,
    })
}

/// Replaces the current history entry with `path`, dropping any fragment, so the tokens in an
/// authorization response vanish from the address bar and from history (Back cannot reveal them).
pub fn replace_url(path: &str) -> Result<(), AuthError> {
    window()?
        .history()
        .and_then(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(path)))
        .map_err(|_| AuthError::Browser("cannot rewrite the address bar"))
}

/// Leaves the app for `url` (the provider's authorize or logout endpoint).
pub fn redirect(url: &str) -> Result<(), AuthError> {
    window()?
        .location()
        .assign(url)
        .map_err(|_| AuthError::Browser("cannot navigate to the identity provider"))
}

/// Which Web Storage area to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// `sessionStorage`: this tab only, survives reloads and the login redirect.
    Session,
    /// `localStorage`: every tab, survives restarts.
    Local,
}

fn storage(area: Area) -> Option<web_sys::Storage> {
    let window = web_sys::window()?;
    match area {
        Area::Session => window.session_storage().ok().flatten(),
        Area::Local => window.local_storage().ok().flatten(),
    }
}

/// Reads `key` from Web Storage; `None` when absent or storage is unavailable.
pub fn storage_get(area: Area, key: &str) -> Option<String> {
    storage(area)?.get_item(key).ok().flatten()
}

/// Writes `key` to Web Storage.
pub fn storage_set(area: Area, key: &str, value: &str) -> Result<(), AuthError> {
    storage(area)
        .ok_or(AuthError::Browser("web storage is unavailable"))?
        .set_item(key, value)
        .map_err(|_| AuthError::Browser("web storage is full or disabled"))
}

/// Removes `key` from Web Storage (a missing key or storage is not an error).
pub fn storage_remove(area: Area, key: &str) {
    if let Some(s) = storage(area) {
        let _ = s.remove_item(key);
    }
}

/// The top-level members of a JSON object as (name, compact JSON value) pairs, in document order.
pub fn json_entries(text: &str) -> Vec<(String, String)> {
    let Ok(value) = JSON::parse(text) else {
        return Vec::new();
    };
    let Some(object) = value.dyn_ref::<Object>() else {
        return Vec::new();
    };
    Object::entries(object)
        .iter()
        .filter_map(|entry| {
            let pair = entry.dyn_into::<js_sys::Array>().ok()?;
            let key = pair.get(0).as_string()?;
            let value = JSON::stringify(&pair.get(1)).ok()?.as_string()?;
            Some((key, value))
        })
        .collect()
}

/// User Timing mark set when an authorization response arrives (taken from the URL, or
/// received by a silent attempt).
pub const CALLBACK_START_MARK: &str = "hashgate:callback-start";
/// User Timing measure from [`CALLBACK_START_MARK`] to the validated session; `cargo xtask bench`
/// reads it.
pub const CALLBACK_MEASURE: &str = "hashgate:callback";

/// Sets a User Timing mark (visible in the browser's performance tools and to benchmarks).
pub fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark(name);
    }
}

/// Records a User Timing measure from the mark `start` to now.
pub fn measure(name: &str, start: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.measure_with_start_mark(name, start);
    }
}

/// Records [`CALLBACK_MEASURE`]: an authorization response became a validated session.
pub fn measure_callback() {
    measure(CALLBACK_MEASURE, CALLBACK_START_MARK);
}

/// True while the page is in a background tab or minimised.
pub fn document_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.hidden())
}

/// Posts `message` to the app's other tabs on `channel` (best effort).
pub fn broadcast(channel: &str, message: &str) {
    if let Ok(c) = web_sys::BroadcastChannel::new(channel) {
        let _ = c.post_message(&JsValue::from_str(message));
        c.close();
    }
}

/// Calls `handler` with each string message other tabs post on `channel`, for the page's lifetime.
pub fn on_broadcast(channel: &str, handler: impl Fn(String) + 'static) {
    let Ok(c) = web_sys::BroadcastChannel::new(channel) else {
        return;
    };
    let callback = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
        move |event: web_sys::MessageEvent| {
            if let Some(text) = event.data().as_string() {
                handler(text);
            }
        },
    );
    c.set_onmessage(Some(callback.as_ref().unchecked_ref()));
    // Both live as long as the page: the provider is mounted once.
    callback.forget();
    std::mem::forget(c);
}
