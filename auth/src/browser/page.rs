//! The page itself: `window`, its address and history, the clock, timers, User Timing marks,
//! visibility and the `BroadcastChannel` between the app's tabs.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::AuthError;

/// The browser's `window`; absent only outside a page (e.g. in a worker).
pub fn window() -> Result<web_sys::Window, AuthError> {
    web_sys::window().ok_or(AuthError::Browser("no window object"))
}

/// Seconds since the Unix epoch by the browser's clock.
pub fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
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

/// User Timing mark set when `<AuthProvider>` starts: the module is compiled and running.
pub const START_MARK: &str = "hashgate:start";
/// User Timing mark set when `auth_config.json` is loaded and valid.
pub const CONFIG_MARK: &str = "hashgate:config";
/// User Timing mark set when the discovery document is loaded and checked.
pub const DISCOVERY_MARK: &str = "hashgate:discovery";
/// User Timing mark set when the provider's key set (JWKS) is loaded.
pub const JWKS_MARK: &str = "hashgate:jwks";
/// User Timing mark set when a silent attempt sends its hidden iframe to the provider.
pub const AUTHORIZE_MARK: &str = "hashgate:authorize";
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

/// Calls `handler` when the page is being discarded: `pagehide` with `persisted` false (a
/// reload, a close, a navigation away). A page going into the back-forward cache is not
/// discarded, and the handler does not run for it.
pub fn on_page_discarded(handler: impl Fn() + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let callback = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::PageTransitionEvent)>::new(
        move |event: web_sys::PageTransitionEvent| {
            if !event.persisted() {
                handler();
            }
        },
    );
    let _ = window.add_event_listener_with_callback("pagehide", callback.as_ref().unchecked_ref());
    // Lives as long as the page: the provider is mounted once.
    callback.forget();
}

/// Queues a form POST that outlives the page (`navigator.sendBeacon`): for a revocation while
/// the page unloads, when a `fetch` would be cancelled. The body is
/// `application/x-www-form-urlencoded`, which needs no CORS preflight. Best effort.
pub fn send_beacon_form(url: &str, body: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Ok(params) = web_sys::UrlSearchParams::new_with_str(body) {
        let _ = window
            .navigator()
            .send_beacon_with_opt_url_search_params(url, Some(&params));
    }
}
