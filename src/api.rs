//! The one typed client for the demo API. `Authorization: Bearer` is added here and nowhere else.

use hashgate_protocol::json::{self, Fields};
use hashgate_protocol::{FromJson, Json, JsonError, ToJson};

use crate::auth::{
    fetch, parse_json, parse_json_value, pretty_json, to_json, AuthContext, HttpRequest,
};

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
        let value = parse_json(&text).map_err(|reason| ApiError::BadBody {
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
        let json = to_json(body);
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
        let mut renewed = false;
        loop {
            let token = match with_token {
                true => Some(
                    self.auth
                        .access_token()
                        .await
                        .map_err(|_| ApiError::LoginRequired)?,
                ),
                false => None,
            };
            let request = HttpRequest {
                method,
                bearer: token.as_ref().map(|t| t.secret()),
                body: json.as_deref().map(|body| ("application/json", body)),
                ..HttpRequest::get(&url)
            };
            let response = fetch(&request, "API")
                .await
                .map_err(|_| ApiError::Network(origin.clone()))?;
            let status = response.status;
            let challenge = response.www_authenticate;
            let text = response.text;
            let answer = ApiResponse {
                status,
                body: pretty_json(&text),
            };
            return match status {
                // RFC 6750 §3.1 invalid_token (revoked, or the API's clock disagrees): one
                // silent renewal and one retry; after that the user has to sign in again.
                401 if with_token && !renewed => {
                    renewed = true;
                    if self.auth.renew().await.is_ok() {
                        continue;
                    }
                    Err(ApiError::Unauthorized(answer))
                }
                401 if with_token => Err(ApiError::Unauthorized(answer)),
                403 => {
                    let scope = challenge
                        .as_deref()
                        .and_then(|c| challenge_param(c, "scope"))
                        .or_else(|| body_scope(&text));
                    Err(ApiError::Forbidden {
                        scope,
                        response: answer,
                    })
                }
                _ => Ok((answer, text)),
            };
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
    parse_json_value(text)
        .ok()?
        .get("scope")?
        .as_str()
        .map(str::to_owned)
}
