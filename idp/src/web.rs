//! HTTP plumbing shared by the handlers: cookies, the current session, the client
//! IP, cross-site checks, error pages and delivering authorization responses.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde_json::{json, Map, Value};

use crate::config::ProxyRange;
use crate::error::{IdpError, Result};
use crate::pages::{self, ErrorPage, Page};
use crate::request::{Rejection, Reply, ResponseMode};
use crate::state::AppState;
use crate::store::{SessionRecord, UserRecord};
use crate::util;

/// The client's IP address: the peer's, or behind a trusted proxy the one it
/// forwarded (see [`client_ip`]); `unknown` when the server was not started with
/// connection info (e.g. in `oneshot` tests).
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(Self("unknown".to_owned()));
        };
        let trusted = &state.config.throttle.trusted_proxies;
        Ok(Self(
            client_ip(peer.ip(), &parts.headers, trusted).to_string(),
        ))
    }
}

/// The client address of a request from `peer`. From a trusted proxy, the
/// `X-Forwarded-For` entries are read from the right (each proxy appends the address
/// it saw): the first one that is not a trusted proxy is the client. Entries further
/// left were written by the client itself and prove nothing. From any other peer the
/// header is ignored, so a client cannot choose its own address. An entry that is
/// not an address stops the walk at the last trusted hop.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ProxyRange]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|t| t.contains(ip));
    let mut client = peer.to_canonical();
    if !is_trusted(client) {
        return client;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for entry in entries.iter().rev() {
        let parsed = entry
            .parse::<IpAddr>()
            .or_else(|_| entry.parse::<SocketAddr>().map(|a| a.ip()));
        let Ok(ip) = parsed else { break };
        client = ip.to_canonical();
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// A cookie as this provider sets them: HttpOnly, SameSite=Lax, Path=/, Secure on
/// https. `max_age` `None` makes a browser-session cookie.
pub fn cookie(
    state: &AppState,
    name: &str,
    value: String,
    max_age: Option<u64>,
) -> Cookie<'static> {
    let mut c = Cookie::build((name.to_owned(), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .build();
    if let Some(age) = max_age {
        c.set_max_age(time::Duration::seconds(
            i64::try_from(age).unwrap_or(i64::MAX),
        ));
    }
    c
}

/// The token-shaped value of cookie `name`, if the browser sent one.
pub fn cookie_token(jar: &CookieJar, name: &str) -> Option<String> {
    jar.get(name)
        .map(|c| c.value().to_owned())
        .filter(|v| util::is_token_shaped(v))
}

/// The logged-in session: the cookie hash, the session and its user.
pub struct Current {
    /// SHA-256 of the cookie value (the database key).
    pub token_hash: String,
    /// The session.
    pub session: SessionRecord,
    /// Its user.
    pub user: UserRecord,
}

impl std::fmt::Debug for Current {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Current")
            .field("token_hash", &util::REDACTED)
            .field("session", &self.session)
            .field("user", &self.user)
            .finish()
    }
}

/// The live session the browser's cookie points at, if any.
pub async fn current_session(state: &AppState, jar: &CookieJar) -> Result<Option<Current>> {
    let Some(value) = cookie_token(jar, &state.session_cookie) else {
        return Ok(None);
    };
    let token_hash = util::sha256_b64(&value);
    state
        .blocking(move |state| {
            let now = util::now();
            let Some(session) = state.store.session(&token_hash, now)? else {
                return Ok(None);
            };
            let Some(user) = state.store.user_by_id(&session.user_id)? else {
                return Ok(None);
            };
            Ok(Some(Current {
                token_hash,
                session,
                user,
            }))
        })
        .await
}

/// Whether a form POST came from one of our own pages: browsers send
/// `Sec-Fetch-Site` and `Origin` on POSTs, and a cross-site form carries the
/// attacker's. The CSRF token is checked separately.
pub fn same_origin_post(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if site.as_bytes() != b"same-origin" {
            return false;
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        if origin.as_bytes() != state.issuer_origin.as_bytes() {
            return false;
        }
    }
    true
}

/// The router's outermost layer: renders the page of an [`IdpError`] (which knows
/// what to say but not where the stylesheet lives, under the issuer's path).
pub async fn render_error_pages(State(state): State<AppState>, res: Response) -> Response {
    let Some(page) = res.extensions().get::<ErrorPage>().cloned() else {
        return res;
    };
    Page::new(
        res.status(),
        pages::message(
            &state.path("assets/idp.css"),
            &page.heading,
            &page.message,
            true,
        ),
        &[],
    )
    .into_response()
}

/// Answers a refused `/authorize` request: an error page, or an error for the app.
pub fn reject(state: &AppState, rejection: Rejection) -> Result<Response> {
    match rejection {
        Rejection::Page {
            status,
            heading,
            message,
        } => Err(IdpError::Refused {
            status,
            heading,
            message,
        }),
        Rejection::Reply {
            reply,
            error,
            description,
        } => Ok(deliver_error(state, &reply, error, &description, false)),
    }
}

/// Sends an RFC 6749 §4.2.2.1 (implicit) or §4.1.2.1 (code) error to the app.
pub fn deliver_error(
    state: &AppState,
    reply: &Reply,
    error: &str,
    description: &str,
    post: bool,
) -> Response {
    tracing::info!(error, "authorization error returned to client");
    let mut m = Map::new();
    m.insert("error".into(), json!(error));
    m.insert("error_description".into(), json!(description));
    deliver(state, reply, m, post)
}

/// Sends response parameters to the app: a redirect with them in the fragment or the
/// query, or the web_message page. `state` and `iss` (RFC 9207 §2: every answer, success
/// or error, of either grant) are added here, so no answer can forget them.
pub fn deliver(
    state: &AppState,
    reply: &Reply,
    mut params: Map<String, Value>,
    post: bool,
) -> Response {
    if let Some(s) = &reply.state {
        params.insert("state".into(), json!(s));
    }
    params.insert("iss".into(), json!(state.issuer));
    match (reply.mode, &reply.web_origin) {
        (ResponseMode::WebMessage, Some(origin)) => {
            let body = json!({
                "targetOrigin": origin,
                "message": { "type": "authorization_response", "response": params },
            });
            let html = pages::web_message(
                &state.path("assets/idp.css"),
                &state.path("assets/web_message.js"),
                &body,
            );
            Page::web_message(html, origin).into_response()
        }
        _ => {
            let pairs: Vec<(String, String)> = params
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect();
            let encoded = util::encode_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let location = if reply.mode == ResponseMode::Query {
                // RFC 6749 §3.1.2: a registered query component is kept.
                let join = if reply.redirect_uri.contains('?') {
                    '&'
                } else {
                    '?'
                };
                format!("{}{join}{encoded}", reply.redirect_uri)
            } else {
                format!("{}#{encoded}", reply.redirect_uri)
            };
            redirect(&location, post)
        }
    }
}

/// A redirect: 303 after a POST so the browser switches to GET, 302 otherwise.
pub fn redirect(location: &str, post: bool) -> Response {
    let status = if post {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::FOUND
    };
    match HeaderValue::from_str(location) {
        Ok(v) => (status, [(header::LOCATION, v)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_session_prints_no_cookie_hash_or_password_hash() {
        let current = Current {
            token_hash: "cookie-hash-secret-value".into(),
            session: SessionRecord {
                sid: "sid".into(),
                user_id: "auth0|alice".into(),
                auth_time: 0,
                expires_at: 1,
            },
            user: UserRecord::example("argon2-secret-value"),
        };
        let printed = format!("{current:?}");
        assert!(!printed.contains("secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxy(s: &str) -> ProxyRange {
        s.parse().unwrap()
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_entry_is_the_client() {
        let trusted = [proxy("127.0.0.1"), proxy("10.0.0.2")];
        // The client wrote "6.6.6.6" itself; nginx appended what it saw.
        let h = forwarded(&["6.6.6.6, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &trusted), ip("198.51.100.7"));
        assert_eq!(
            client_ip(
                ip("::ffff:127.0.0.1"),
                &forwarded(&["[2001:db8::1]:443"]),
                &trusted
            ),
            ip("2001:db8::1")
        );
        // Nothing forwarded, or only proxies: the last proxy seen.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &forwarded(&[]), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &forwarded(&["10.0.0.2"]), &trusted),
            ip("10.0.0.2")
        );
        // Garbage stops the walk: it is never taken for an address.
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &forwarded(&["198.51.100.7, bogus"]),
                &trusted
            ),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let h = forwarded(&["198.51.100.7"]);
        assert_eq!(client_ip(ip("203.0.113.9"), &h, &[]), ip("203.0.113.9"));
        assert_eq!(
            client_ip(ip("203.0.113.9"), &h, &[proxy("127.0.0.1")]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_range_of_proxies_is_trusted_as_a_whole() {
        // A load balancer pool in 10.0.0.0/8 in front of nginx on 127.0.0.1.
        let trusted = [proxy("10.0.0.0/8"), proxy("127.0.0.1")];
        let h = forwarded(&["198.51.100.7, 10.3.4.5"]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &trusted), ip("198.51.100.7"));
        assert_eq!(
            client_ip(ip("10.200.0.9"), &h, &trusted),
            ip("198.51.100.7")
        );
        // Just outside the range: that peer's header is ignored.
        assert_eq!(client_ip(ip("11.0.0.1"), &h, &trusted), ip("11.0.0.1"));
    }
}
