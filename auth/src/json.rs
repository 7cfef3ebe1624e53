//! JSON text to [`Json`] with the browser's own parser (`JSON.parse`): no JSON parser and no
//! serde in the download. The typed readers ([`hashgate_protocol::FromJson`]) live in the
//! protocol crate; an app reads its API's answers with [`read`] too, so they cost it nothing more.

use hashgate_protocol::{FromJson, Json, JsonError, ToJson};
use js_sys::{Array, Object, JSON};
use wasm_bindgen::{JsCast, JsValue};

/// Deepest nesting converted; real documents are a few levels deep, and a hostile one must not
/// exhaust the stack.
const MAX_DEPTH: usize = 32;

/// Parses JSON text with the browser's own parser into `T`; the error names the member at fault.
pub fn read<T: FromJson>(text: &str) -> Result<T, String> {
    parse_value(text)
        .and_then(|value| T::from_json(&value))
        .map_err(|e| e.to_string())
}

/// `value` as compact JSON text.
pub fn to_text<T: ToJson + ?Sized>(value: &T) -> String {
    value.to_json().to_text()
}

/// Parses JSON text with the browser's own parser into an untyped [`Json`] value.
pub fn parse_value(text: &str) -> Result<Json, JsonError> {
    let value = JSON::parse(text).map_err(|_| JsonError::not_json())?;
    convert(&value, MAX_DEPTH).ok_or_else(JsonError::not_json)
}

/// `JSON.parse`'s result as [`Json`]; `None` when nested deeper than `depth`.
fn convert(value: &JsValue, depth: usize) -> Option<Json> {
    Some(if let Some(b) = value.as_bool() {
        Json::Bool(b)
    } else if let Some(n) = value.as_f64() {
        Json::Number(n)
    } else if let Some(s) = value.as_string() {
        Json::String(s)
    } else if value.is_null() || value.is_undefined() {
        Json::Null
    } else {
        let depth = depth.checked_sub(1)?;
        if Array::is_array(value) {
            let items = value.unchecked_ref::<Array>();
            let mut out = Vec::with_capacity(items.length() as usize);
            for item in items.iter() {
                out.push(convert(&item, depth)?);
            }
            Json::Array(out)
        } else {
            let entries = Object::entries(value.unchecked_ref::<Object>());
            let mut out = Vec::with_capacity(entries.length() as usize);
            for entry in entries.iter() {
                let pair = entry.unchecked_into::<Array>();
                out.push((pair.get(0).as_string()?, convert(&pair.get(1), depth)?));
            }
            Json::Object(out)
        }
    })
}
