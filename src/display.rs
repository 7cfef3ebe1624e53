//! The demo's own display helpers: JSON re-indented and taken apart for the token inspector,
//! the sign-in method in words, and the clock. Through the browser's own `JSON`, so they cost
//! the download almost nothing.

use hashgate_auth::protocol::ResponseType;
use js_sys::{Object, JSON};
use wasm_bindgen::{JsCast, JsValue};

/// Seconds since the Unix epoch by the browser's clock.
pub fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// How a sign-in method reads on the page.
pub fn flow_label(flow: ResponseType) -> &'static str {
    match flow {
        ResponseType::IdTokenToken => "implicit grant (id_token token)",
        ResponseType::IdToken => "implicit grant, sign-in only (id_token)",
        ResponseType::Code => "authorization code flow with PKCE",
    }
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
