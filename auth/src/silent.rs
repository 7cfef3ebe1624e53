//! Silent authentication: `/authorize?prompt=none` in a hidden iframe, riding the provider's
//! session cookie. Used to restore a session on page load and to renew the access token.
//!
//! Transport: `response_mode=web_message` (Auth0's postMessage page) when discovery advertises it,
//! otherwise the fragment goes to `/silent-callback.html`, which hands it to this window. A message
//! is accepted only from the exact expected origin, from our own iframe, and with this attempt's
//! `state`; anything else is ignored. The iframe is always removed.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::oneshot;
use hashgate_protocol::{
    fragment::{from_pairs, parse_fragment, AuthorizationResponse},
    origin_of, scope, AuthorizeRequest, FragmentError, Nonce, State,
};
use js_sys::{Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::browser;
use crate::error::AuthError;
use crate::session::Session;
use crate::setup::Setup;
use crate::token::{complete, Pending};

/// How long a silent attempt may take before it ends with [`AuthError::Timeout`].
pub const SILENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The static page that relays the fragment when the provider has no `web_message`.
pub const SILENT_CALLBACK_PATH: &str = "/silent-callback.html";

/// One `prompt=none` attempt with its own state and nonce (and, in the code flow, its own PKCE
/// verifier); the result is validated exactly like `/callback`, with the setup's keys (which
/// learn of rotated keys on the way).
pub async fn silent_authorize(setup: &Setup) -> Result<Session, AuthError> {
    let (config, metadata) = (&setup.config, &setup.metadata);
    let origin = browser::location()?.origin;
    let state = State::from_random(&browser::random_32()?);
    let nonce = Nonce::from_random(&browser::random_32()?);
    let code_flow = config.response_type.is_code();
    let (verifier, challenge) = match browser::new_pkce(code_flow).await? {
        Some((verifier, challenge)) => (Some(verifier), Some(challenge)),
        None => (None, None),
    };
    let web_message = metadata.supports_web_message();
    let (redirect_uri, expected_origin) = if web_message {
        let provider_origin = origin_of(&metadata.authorization_endpoint).ok_or(
            AuthError::Browser("the authorization endpoint has no origin"),
        )?;
        (config.redirect_uri(&origin), provider_origin)
    } else {
        (format!("{origin}{SILENT_CALLBACK_PATH}"), origin.clone())
    };
    // Without web_message a code comes in the fragment too, which silent-callback.html relays
    // (and never sends to a server).
    let response_mode = match (web_message, code_flow) {
        (true, _) => Some("web_message"),
        (false, true) => Some("fragment"),
        (false, false) => None,
    };
    let scope = scope::with_openid(&config.scope);
    let jkt = crate::dpop::login_jkt(config).await?;
    let url = AuthorizeRequest {
        prompt: Some("none"),
        response_mode,
        code_challenge: challenge.as_deref(),
        dpop_jkt: jkt.as_deref(),
        ..AuthorizeRequest::new(config, metadata, &redirect_uri, &scope, &state, &nonce)
    }
    .to_url();

    browser::mark(browser::AUTHORIZE_MARK);
    let response = run_iframe(&url, &expected_origin, &state).await?;
    browser::mark(browser::CALLBACK_START_MARK);
    let now = browser::now_secs();
    let pending = Pending {
        nonce,
        verifier,
        redirect_uri,
    };
    let session = complete(
        setup,
        response,
        pending,
        AuthError::WrongFlow(
            "tokens arrived, but the app is set up for the authorization code flow",
        ),
        now,
    )
    .await?;
    // Response received → validated session, as for `/callback`.
    browser::measure_callback();
    Ok(session)
}

/// Loads `url` in a hidden iframe and waits for the authorization response carrying `state`.
async fn run_iframe(
    url: &str,
    expected_origin: &str,
    state: &State,
) -> Result<AuthorizationResponse, AuthError> {
    let window = browser::window()?;
    let document = window.document().ok_or(AuthError::Browser("no document"))?;
    let body = document
        .body()
        .ok_or(AuthError::Browser("no document body"))?;
    let iframe: web_sys::HtmlIFrameElement = document
        .create_element("iframe")
        .and_then(|e| e.dyn_into().map_err(JsValue::from))
        .map_err(|_| AuthError::Browser("cannot create an iframe"))?;
    let _ = iframe.set_attribute("hidden", "");
    let _ = iframe.set_attribute("aria-hidden", "true");
    let _ = iframe.set_attribute("tabindex", "-1");
    let _ = iframe.set_attribute("title", "silent sign-in");
    iframe.set_src(url);

    let (sender, receiver) = oneshot::channel::<Result<AuthorizationResponse, AuthError>>();
    let sender = Rc::new(RefCell::new(Some(sender)));

    let on_message = {
        let sender = sender.clone();
        let iframe = iframe.clone();
        let expected_origin = expected_origin.to_string();
        let state = state.secret().to_string();
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            // Only our own iframe, only from the exact origin we sent it to, only this attempt.
            if event.origin() != expected_origin {
                return;
            }
            let from_our_iframe = match (event.source(), iframe.content_window()) {
                (Some(source), Some(frame)) => Object::is(&source, &frame),
                _ => false,
            };
            if !from_our_iframe {
                return;
            }
            // A malformed or foreign message is ignored, so it cannot cut a genuine attempt short.
            let Some(Ok(response)) = parse_message(&event.data()) else {
                return;
            };
            let matches_state = matches!(
                response.state(),
                Some(s) if hashgate_protocol::ct_eq(s.secret().as_bytes(), state.as_bytes())
            );
            if !matches_state {
                return;
            }
            if let Some(tx) = sender.borrow_mut().take() {
                let _ = tx.send(Ok(response));
            }
        })
    };
    let on_timeout = {
        let sender = sender.clone();
        Closure::<dyn FnMut()>::new(move || {
            if let Some(tx) = sender.borrow_mut().take() {
                let _ = tx.send(Err(AuthError::Timeout));
            }
        })
    };

    let _ = window.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
    let timer = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            on_timeout.as_ref().unchecked_ref(),
            SILENT_TIMEOUT.as_millis() as i32,
        )
        .ok();
    let appended = body
        .append_child(&iframe)
        .map_err(|_| AuthError::Browser("cannot add an iframe"));

    let result = match appended {
        Ok(_) => receiver.await.unwrap_or(Err(AuthError::Timeout)),
        Err(e) => Err(e),
    };

    // Always clean up: listener, timer, iframe.
    let _ =
        window.remove_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
    if let Some(id) = timer {
        window.clear_timeout_with_handle(id);
    }
    iframe.remove();
    drop(on_message);
    drop(on_timeout);
    result
}

/// Reads a postMessage payload: Auth0's `{type, response: {…}}` (web_message) or our
/// `{type, fragment: "#…"}` (silent-callback.html). Both go through the protocol crate's parser
/// rules. `None` when the message is not an authorization response at all.
fn parse_message(data: &JsValue) -> Option<Result<AuthorizationResponse, FragmentError>> {
    let kind = Reflect::get(data, &"type".into()).ok()?.as_string()?;
    if kind != "authorization_response" {
        return None;
    }
    if let Some(fragment) = Reflect::get(data, &"fragment".into()).ok()?.as_string() {
        return Some(parse_fragment(&fragment));
    }
    let response = Reflect::get(data, &"response".into()).ok()?;
    let object = response.dyn_ref::<Object>()?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for entry in Object::entries(object).iter() {
        let pair = entry.dyn_into::<js_sys::Array>().ok()?;
        let key = pair.get(0).as_string()?;
        let value = pair.get(1);
        // Auth0 posts `expires_in` as a number; everything else is a string.
        // Only whole numbers are meaningful here (`expires_in`); integer formatting also keeps
        // float-printing code out of the bundle.
        let value = value.as_string().or_else(|| {
            value
                .as_f64()
                .filter(|n| n.fract() == 0.0 && (0.0..9.0e15).contains(n))
                .map(|n| (n as u64).to_string())
        })?;
        pairs.push((key, value));
    }
    Some(from_pairs(pairs))
}
