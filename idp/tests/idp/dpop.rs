//! DPoP at the token endpoint (RFC 9449, `idp/README.md`, "DPoP"): proofs checked as
//! §4.3 says, access tokens and refresh tokens bound to the proof's key, `dpop_jkt`,
//! server nonces, and the CORS a browser app needs. Every request goes over real HTTP.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::*;

/// The token endpoint as clients see it: the issuer's, not the test socket's.
const TOKEN_URL: &str = "http://localhost:3000/oauth/token";

fn now() -> i64 {
    i64::try_from(std::time::UNIX_EPOCH.elapsed().unwrap().as_secs()).unwrap()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A client's DPoP key pair (ES256, P-256).
struct Key {
    signing: SigningKey,
    x: String,
    y: String,
}

impl Key {
    fn new() -> Self {
        let signing = SigningKey::random(&mut rand::rngs::OsRng);
        let point = signing.verifying_key().to_encoded_point(false);
        Self {
            x: b64(point.x().unwrap()),
            y: b64(point.y().unwrap()),
            signing,
        }
    }

    fn jwk(&self) -> Value {
        json!({ "kty": "EC", "crv": "P-256", "x": self.x, "y": self.y })
    }

    /// RFC 7638 §3, computed here from the RFC's text.
    fn jkt(&self) -> String {
        let text = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            self.x, self.y
        );
        b64(Sha256::digest(text.as_bytes()))
    }

    /// `header.claims` signed by this key, whatever the header says.
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature: Signature = self.signing.sign(input.as_bytes());
        format!("{input}.{}", b64(signature.to_bytes()))
    }

    fn header(&self) -> Value {
        json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk() })
    }

    fn claims(&self) -> Value {
        json!({
            "jti": hashgate_idp_random(),
            "htm": "POST",
            "htu": TOKEN_URL,
            "iat": now(),
        })
    }

    /// A good proof for `POST /oauth/token`.
    fn proof(&self) -> String {
        self.sign(&self.header(), &self.claims())
    }

    /// A good proof carrying `nonce`.
    fn proof_with_nonce(&self, nonce: &str) -> String {
        let mut claims = self.claims();
        claims["nonce"] = json!(nonce);
        self.sign(&self.header(), &claims)
    }
}

/// A fresh random `jti`.
fn hashgate_idp_random() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    b64(bytes)
}

/// `POST /oauth/token` from the app's origin, with a `DPoP` header when `proof` is set.
async fn token(http: &Http, form: &[(&str, &str)], proof: Option<&str>) -> Resp {
    let mut headers = vec![("origin", "http://localhost:8080")];
    if let Some(p) = proof {
        headers.push(("dpop", p));
    }
    http.post_with("/oauth/token", form, &headers).await
}

fn exchange_form(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT),
        ("code", code),
        ("code_verifier", VERIFIER),
        ("redirect_uri", CALLBACK),
    ]
}

fn refresh_form(refresh_token: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT),
        ("refresh_token", refresh_token),
    ]
}

async fn code(idp: &Idp, extra: &[(&str, &str)]) -> String {
    idp.browser()
        .code(&code_params(extra), ("alice", "alice-password"))
        .await
}

/// A DPoP answer: `token_type: DPoP` and an access token whose `cnf.jkt` names `key`.
async fn assert_bound(idp: &Idp, res: &Resp, key: &Key) -> Value {
    let body = token_json(res);
    assert_eq!(body["token_type"], "DPoP", "{body}");
    let claims = verify(idp, body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(claims["cnf"], json!({ "jkt": key.jkt() }), "{claims}");
    body
}

/// `form` posted with a fresh proof by `key`; the answer must be bound to `key`.
async fn redeem_bound(idp: &Idp, http: &Http, form: &[(&str, &str)], key: &Key) -> Value {
    assert_bound(idp, &token(http, form, Some(&key.proof())).await, key).await
}

#[tokio::test]
async fn discovery_advertises_es256_for_dpop_proofs() {
    // RFC 9449 §5.1.
    let idp = Idp::new();
    let doc = idp.get("/.well-known/openid-configuration").await.json();
    assert_eq!(doc["dpop_signing_alg_values_supported"], json!(["ES256"]));
}

#[tokio::test]
async fn a_code_exchanged_with_a_proof_gives_a_dpop_token_bound_to_the_key() {
    // RFC 9449 §5 and §6.1: token_type DPoP, cnf.jkt = the key's RFC 7638 thumbprint.
    let idp = Idp::new();
    let http = idp.http().await;
    let key = Key::new();
    let code = code(&idp, &[]).await;
    let res = token(&http, &exchange_form(&code), Some(&key.proof())).await;
    let body = assert_bound(&idp, &res, &key).await;
    assert!(body["refresh_token"].is_string(), "{body}");
    // Without a proof the same flow stays Bearer, with no cnf.
    let code = self::code(&idp, &[]).await;
    let body = token_json(&token(&http, &exchange_form(&code), None).await);
    assert_eq!(body["token_type"], "Bearer");
    let claims = verify(&idp, body["access_token"].as_str().unwrap(), API).await;
    assert!(claims.get("cnf").is_none(), "{claims}");
}

#[tokio::test]
async fn a_refresh_with_the_same_key_rotates_and_keeps_the_binding() {
    // RFC 9449 §5: the refresh token of a public client is bound to the key.
    let idp = Idp::new();
    let http = idp.http().await;
    let key = Key::new();
    let code = code(&idp, &[]).await;
    let first = redeem_bound(&idp, &http, &exchange_form(&code), &key).await;
    let rt = first["refresh_token"].as_str().unwrap();
    let second = redeem_bound(&idp, &http, &refresh_form(rt), &key).await;
    let rotated = second["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, rt);
    redeem_bound(&idp, &http, &refresh_form(rotated), &key).await;
}

#[tokio::test]
async fn a_bound_refresh_token_with_another_key_or_no_proof_is_invalid_grant() {
    // RFC 9449 §5: a refresh with another key, or without a proof, fails, and does
    // not spend the token for its owner.
    let idp = Idp::new();
    let http = idp.http().await;
    let (key, thief) = (Key::new(), Key::new());
    let code = code(&idp, &[]).await;
    let body = token_json(&token(&http, &exchange_form(&code), Some(&key.proof())).await);
    let rt = body["refresh_token"].as_str().unwrap();
    let res = token(&http, &refresh_form(rt), Some(&thief.proof())).await;
    assert_oauth_error(&res, 400, "invalid_grant");
    let res = token(&http, &refresh_form(rt), None).await;
    assert_oauth_error(&res, 400, "invalid_grant");
    redeem_bound(&idp, &http, &refresh_form(rt), &key).await;
}

#[tokio::test]
async fn hostile_proofs_are_refused_and_leave_the_code_redeemable() {
    // RFC 9449 §4.3: typ, an asymmetric alg from the list, a public jwk, the signature by
    // it, htm and htu exact, iat recent.
    let idp = Idp::new();
    let http = idp.http().await;
    let (key, other) = (Key::new(), Key::new());
    let code = code(&idp, &[]).await;
    let form = exchange_form(&code);

    let mut hostile: Vec<(&str, String)> = Vec::new();
    let mut claims = key.claims();
    claims["htu"] = json!("http://localhost:3000/oauth/revoke");
    hostile.push(("another URL", key.sign(&key.header(), &claims)));
    let mut claims = key.claims();
    claims["htm"] = json!("GET");
    hostile.push(("another method", key.sign(&key.header(), &claims)));
    let mut claims = key.claims();
    claims["iat"] = json!(now() - 600);
    hostile.push(("iat 10 minutes ago", key.sign(&key.header(), &claims)));
    let mut claims = key.claims();
    claims["iat"] = json!(now() + 600);
    hostile.push(("iat 10 minutes ahead", key.sign(&key.header(), &claims)));
    let mut header = key.header();
    header["alg"] = json!("none");
    let unsigned = format!(
        "{}.{}.",
        b64(header.to_string()),
        b64(key.claims().to_string())
    );
    hostile.push(("alg none", unsigned));
    // HS256 keyed with the public key's own text: the classic algorithm confusion.
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.typ = Some("dpop+jwt".into());
    hs.jwk = Some(serde_json::from_value(key.jwk()).unwrap());
    let secret = jsonwebtoken::EncodingKey::from_secret(key.jwk().to_string().as_bytes());
    hostile.push((
        "HS256",
        jsonwebtoken::encode(&hs, &key.claims(), &secret).unwrap(),
    ));
    let mut header = key.header();
    header["typ"] = json!("JWT");
    hostile.push(("typ JWT", key.sign(&header, &key.claims())));
    let mut header = key.header();
    header.as_object_mut().unwrap().remove("typ");
    hostile.push(("no typ", key.sign(&header, &key.claims())));
    let mut header = key.header();
    let d = b64(key.signing.to_bytes());
    header["jwk"]["d"] = json!(d);
    hostile.push(("a private key in the jwk", key.sign(&header, &key.claims())));
    // Signed by another key than the one in the header.
    hostile.push(("a bad signature", other.sign(&key.header(), &key.claims())));
    let mut header = key.header();
    header.as_object_mut().unwrap().remove("jwk");
    hostile.push(("no jwk", key.sign(&header, &key.claims())));
    hostile.push(("not a JWT", "not-a-jwt".into()));
    let mut header = key.header();
    header["jwk"]["x"] = json!("AA");
    hostile.push((
        "a jwk that is no P-256 point",
        key.sign(&header, &key.claims()),
    ));
    let mut header = key.header();
    header["jwk"]["kty"] = json!("RSA");
    hostile.push(("an RSA jwk under ES256", key.sign(&header, &key.claims())));

    for (what, proof) in &hostile {
        let res = token(&http, &form, Some(proof)).await;
        assert_eq!(res.status.as_u16(), 400, "{what}: {}", res.body);
        assert_eq!(
            res.json()["error"],
            "invalid_dpop_proof",
            "{what}: {}",
            res.body
        );
        assert!(!res.body.contains("access_token"), "{what}");
    }
    // Two DPoP headers: refused too (§4.3 step 1).
    let (p1, p2) = (key.proof(), key.proof());
    let res = http
        .post_with(
            "/oauth/token",
            &form,
            &[
                ("origin", "http://localhost:8080"),
                ("dpop", &p1),
                ("dpop", &p2),
            ],
        )
        .await;
    assert_oauth_error(&res, 400, "invalid_dpop_proof");
    // None of them used the code up.
    redeem_bound(&idp, &http, &form, &key).await;
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    // RFC 9449 §11.1: a jti is accepted once within the window.
    let idp = Idp::new();
    let http = idp.http().await;
    let key = Key::new();
    let code = code(&idp, &[]).await;
    let proof = key.proof();
    let body = token_json(&token(&http, &exchange_form(&code), Some(&proof)).await);
    let rt = body["refresh_token"].as_str().unwrap();
    let res = token(&http, &refresh_form(rt), Some(&proof)).await;
    assert_oauth_error(&res, 400, "invalid_dpop_proof");
    assert!(res.body.contains("already used"), "{}", res.body);
    // A new proof by the same key works: the replay spent nothing.
    redeem_bound(&idp, &http, &refresh_form(rt), &key).await;
}

#[tokio::test]
async fn a_code_requested_with_dpop_jkt_is_redeemed_only_with_that_key() {
    // RFC 9449 §10: the authorization code is bound to the key named at /authorize.
    let idp = Idp::new();
    let http = idp.http().await;
    let (key, other) = (Key::new(), Key::new());
    let jkt = key.jkt();
    let code = code(&idp, &[("dpop_jkt", &jkt)]).await;
    let form = exchange_form(&code);
    assert_oauth_error(
        &token(&http, &form, Some(&other.proof())).await,
        400,
        "invalid_grant",
    );
    assert_oauth_error(&token(&http, &form, None).await, 400, "invalid_grant");
    redeem_bound(&idp, &http, &form, &key).await;

    // A malformed dpop_jkt is refused at /authorize, at the redirect URI.
    let res = idp
        .browser()
        .get(&authorize_uri(&code_params(&[(
            "dpop_jkt",
            "not-a-thumbprint",
        )])))
        .await;
    assert_eq!(res.query()["error"], "invalid_dpop_proof");
}

#[tokio::test]
async fn with_nonces_required_a_proof_without_the_nonce_gets_use_dpop_nonce_and_a_retry_works() {
    // RFC 9449 §8: 400 use_dpop_nonce with a DPoP-Nonce header; the retry with it passes.
    let idp = Idp::with_config(|c| c.dpop.require_nonce = true);
    let http = idp.http().await;
    let key = Key::new();
    let code = code(&idp, &[]).await;
    let form = exchange_form(&code);
    let res = token(&http, &form, Some(&key.proof())).await;
    assert_oauth_error(&res, 400, "use_dpop_nonce");
    let nonce = res.header("dpop-nonce").expect("a DPoP-Nonce header");
    let res = token(&http, &form, Some(&key.proof_with_nonce("made-up"))).await;
    assert_oauth_error(&res, 400, "use_dpop_nonce");
    let res = token(&http, &form, Some(&key.proof_with_nonce(&nonce))).await;
    assert_bound(&idp, &res, &key).await;
    assert!(res.header("dpop-nonce").is_some());
}

#[tokio::test]
async fn a_client_with_dpop_bound_access_tokens_must_send_a_proof() {
    // RFC 9449 §5.2: dpop_bound_access_tokens makes DPoP required for the client.
    let idp = Idp::with_config(|c| {
        for client in &mut c.clients {
            client.dpop_bound_access_tokens = true;
        }
    });
    let http = idp.http().await;
    let key = Key::new();
    let code = code(&idp, &[]).await;
    let form = exchange_form(&code);
    assert_oauth_error(&token(&http, &form, None).await, 400, "invalid_dpop_proof");
    redeem_bound(&idp, &http, &form, &key).await;
}

#[tokio::test]
async fn the_token_endpoint_lets_the_app_send_dpop_and_read_dpop_nonce() {
    // RFC 9449 §4.1 and §8 through CORS: the DPoP request header is allowed, the
    // DPoP-Nonce response header exposed, to the app's origin only.
    let idp = Idp::with_config(|c| c.dpop.require_nonce = true);
    let http = idp.http().await;
    let preflight = http
        .send(
            http.client
                .request(
                    reqwest::Method::OPTIONS,
                    format!("{}/oauth/token", http.base),
                )
                .header("origin", "http://localhost:8080")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type, dpop"),
        )
        .await;
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(allowed.contains("dpop"), "{allowed:?}");
    let res = token(&http, &exchange_form("x"), Some(&Key::new().proof())).await;
    let exposed = res
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("dpop-nonce"), "{exposed:?}");
    assert_eq!(
        res.header("access-control-allow-origin").as_deref(),
        Some("http://localhost:8080")
    );
}

#[tokio::test]
async fn a_bound_refresh_token_can_be_revoked_without_a_proof() {
    // idp/README.md (DPoP): revocation only takes access away, so the bound refresh
    // token of a public client is revoked with or without a proof.
    let idp = Idp::new();
    let http = idp.http().await;
    let key = Key::new();
    let code = code(&idp, &[]).await;
    let body = token_json(&token(&http, &exchange_form(&code), Some(&key.proof())).await);
    let rt = body["refresh_token"].as_str().unwrap();
    let res = http
        .post_with(
            "/oauth/revoke",
            &[("client_id", CLIENT), ("token", rt)],
            &[("origin", "http://localhost:8080")],
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let res = token(&http, &refresh_form(rt), Some(&key.proof())).await;
    assert_oauth_error(&res, 400, "invalid_grant");
}

const RULE: &str = r#"function (user, context, callback) {
  context.accessToken['https://hashgate.dev/rule_jkt'] = context.dpop ? context.dpop.jkt : 'none';
  context.accessToken.cnf = { jkt: 'set-by-a-rule' };
  callback(null, user, context);
}"#;

const ACTION: &str = r#"exports.onExecutePostLogin = async (event, api) => {
  const dpop = event.transaction.dpop;
  api.accessToken.setCustomClaim('https://hashgate.dev/action_jkt', dpop ? dpop.jkt : 'none');
  api.accessToken.setCustomClaim('cnf', null);
};"#;

#[tokio::test]
async fn rules_and_actions_see_the_binding_but_cannot_set_or_remove_cnf() {
    // RFC 9449 §6.1 and idp/README.md (Rules and Actions): `cnf` is a protected claim;
    // rules read the binding from context.dpop, Actions from event.transaction.dpop.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("10-rule.js"), RULE).unwrap();
    std::fs::write(dir.path().join("20-action.js"), ACTION).unwrap();
    let path = dir.path().to_owned();
    let idp = Idp::with_config(|c| c.rules_dir = Some(path));
    let http = idp.http().await;
    let key = Key::new();
    let jkt = key.jkt();

    let code = code(&idp, &[("dpop_jkt", &jkt)]).await;
    let body = redeem_bound(&idp, &http, &exchange_form(&code), &key).await;
    let claims = verify(&idp, body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(claims["https://hashgate.dev/rule_jkt"], json!(jkt));
    assert_eq!(claims["https://hashgate.dev/action_jkt"], json!(jkt));
    // On a refresh the rules run again and see the proof's key.
    let rt = body["refresh_token"].as_str().unwrap();
    let body = redeem_bound(&idp, &http, &refresh_form(rt), &key).await;
    let claims = verify(&idp, body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(claims["https://hashgate.dev/rule_jkt"], json!(jkt));

    // Without DPoP the rules' cnf does not reach the token either.
    let code = self::code(&idp, &[]).await;
    let body = token_json(&token(&http, &exchange_form(&code), None).await);
    let claims = verify(&idp, body["access_token"].as_str().unwrap(), API).await;
    assert!(claims.get("cnf").is_none(), "{claims}");
    assert_eq!(claims["https://hashgate.dev/rule_jkt"], "none");
}
