//! The demo API's typed client: its endpoints, bodies and errors. The access token is attached
//! by the login library ([`AuthContext::call_api`]), in one place.

use hashgate_auth::json::{parse_value, read, to_text};
use hashgate_auth::protocol::json::{self, Fields};
use hashgate_auth::protocol::{FromJson, Json, JsonError, ToJson};
use hashgate_auth::{ApiRequest, AuthContext, CallError};

use crate::display::pretty_json;

/// An API answer the page can show: HTTP status and the body (pretty JSON when it is JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiResponse {
    /// HTTP status code.
    pub status: u16,
    /// The response body, re-indented if it is JSON.
    pub body: String,
}

/// A message as `GET /api/messages` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The text the user posted.
    pub text: String,
    /// When it was stored (RFC 3339), if the API says.
    pub created_at: Option<String>,
}

impl FromJson for Message {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        let f = Fields::of(value)?;
        Ok(Message {
            text: f.string("text")?,
            created_at: f.opt_string("created_at")?,
        })
    }
}

/// The body of `GET /api/messages`.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageList {
    /// The caller's messages, oldest first.
    pub messages: Vec<Message>,
}

impl FromJson for MessageList {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        let messages =
            Fields::of(value)?.req("messages", |v| json::array(v, Message::from_json))?;
        Ok(MessageList { messages })
    }
}

/// The body of `POST /api/messages`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMessage<'a> {
    /// The text to store.
    pub text: &'a str,
}

impl ToJson for NewMessage<'_> {
    fn to_json(&self) -> Json {
        Json::Object(vec![("text".into(), self.text.into())])
    }
}

/// Why an API call failed, as a sentence the user can act on.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// `apiOrigin` is not set in `auth_config.json`.
    #[error("no API is configured: set \"apiOrigin\" in auth_config.json")]
    NotConfigured,
    /// There is no usable access token; the user must log in (again).
    #[error("your session has expired or you are not signed in; please log in again")]
    LoginRequired,
    /// The API refused the token (401) even after a fresh one was fetched.
    #[error("the API did not accept your sign-in; please log in again")]
    Unauthorized(ApiResponse),
    /// The token lacks a scope the endpoint needs (403).
    #[error("you don't have permission for this{}", .scope.as_deref().map(|s| format!(" (it needs the {s} permission)")).unwrap_or_default())]
    Forbidden {
        /// The scope the API named in `WWW-Authenticate`, if it named one.
        scope: Option<String>,
        /// The API's answer.
        response: ApiResponse,
    },
    /// The API could not be reached.
    #[error("could not reach the API at {0}; check that it is running, then retry")]
    Network(String),
    /// The API answered with a body that is not the JSON the call expects.
    #[error("the API's answer could not be read: {reason}")]
    BadBody {
        /// Why, in a few words.
        reason: String,
        /// The API's answer.
        response: ApiResponse,
    },
}

impl ApiError {
    /// The API's answer, when there was one.
    pub fn response(&self) -> Option<&ApiResponse> {
        match self {
            ApiError::Unauthorized(response)
            | ApiError::Forbidden { response, .. }
            | ApiError::BadBody { response, .. } => Some(response),
            ApiError::NotConfigured | ApiError::LoginRequired | ApiError::Network(_) => None,
        }
    }
}

/// Calls the API configured as `apiOrigin`, with the signed-in user's access token.
#[derive(Clone, Copy)]
pub struct ApiClient {
    auth: AuthContext,
}

impl ApiClient {
    /// A client that takes its tokens from `auth`.
    pub fn new(auth: AuthContext) -> Self {
        ApiClient { auth }
    }

    /// `GET {apiOrigin}{path}` without a token.
    pub async fn get_public(&self, path: &str) -> Result<ApiResponse, ApiError> {
        Ok(self.send("GET", path, None, false).await?.0)
    }

    /// `GET {apiOrigin}{path}` with the access token.
    pub async fn get(&self, path: &str) -> Result<ApiResponse, ApiError> {
        Ok(self.send("GET", path, None, true).await?.0)
    }

    /// `GET {apiOrigin}{path}` with the access token, reading a successful answer as `T`.
    pub async fn get_json<T: FromJson>(&self, path: &str) -> Result<(ApiResponse, T), ApiError> {
        let (response, text) = self.send("GET", path, None, true).await?;
        let value = read(&text).map_err(|reason| ApiError::BadBody {
            reason,
            response: response.clone(),
        })?;
        Ok((response, value))
    }

    /// `POST {apiOrigin}{path}` with `body` as JSON and the access token.
    pub async fn post_json<B: ToJson>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<ApiResponse, ApiError> {
        let json = to_text(body);
        Ok(self.send("POST", path, Some(json), true).await?.0)
    }

    /// Sends the request; on success the answer and its raw body text.
    async fn send(
        &self,
        method: &str,
        path: &str,
        json: Option<String>,
        with_token: bool,
    ) -> Result<(ApiResponse, String), ApiError> {
        let origin = self
            .auth
            .config()
            .and_then(|c| c.api_origin)
            .ok_or(ApiError::NotConfigured)?;
        let url = format!("{origin}{path}");
        let request = ApiRequest {
            method,
            url: &url,
            json: json.as_deref(),
            with_token,
        };
        let response = self.auth.call_api(request).await.map_err(|e| match e {
            CallError::LoginRequired => ApiError::LoginRequired,
            _ => ApiError::Network(origin.clone()),
        })?;
        let answer = ApiResponse {
            status: response.status,
            body: pretty_json(&response.text),
        };
        match response.status {
            // The library renewed once and retried already: the user has to sign in again.
            401 if with_token => Err(ApiError::Unauthorized(answer)),
            403 => {
                let scope = response
                    .www_authenticate
                    .as_deref()
                    .and_then(|c| challenge_param(c, "scope"))
                    .or_else(|| body_scope(&response.text));
                Err(ApiError::Forbidden {
                    scope,
                    response: answer,
                })
            }
            _ => Ok((answer, response.text)),
        }
    }
}

/// Reads `name="value"` from a `WWW-Authenticate: Bearer …` challenge.
fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let start = challenge.find(&needle)? + needle.len();
    let rest = &challenge[start..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Reads `scope` from a JSON error body (for APIs that do not expose `WWW-Authenticate` to CORS).
fn body_scope(text: &str) -> Option<String> {
    parse_value(text)
        .ok()?
        .get("scope")?
        .as_str()
        .map(str::to_owned)
}
