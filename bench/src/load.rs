//! A small HTTP/1.1 load generator for `hashgate-api`'s `/api/private`, so that a `Bearer`
//! token and a `DPoP` token with its proof are measured by the same client, side by side.
//!
//! Why not wrk: a DPoP proof is single-use (RFC 9449 §11.1; the API remembers each `jti` for
//! its proof window), so every request needs its own `DPoP` header, and wrk sends one fixed
//! header. Here every request is written out beforehand (proofs are signed before the clock
//! starts), and `connections` keep-alive connections on the runtime's worker threads each send
//! one request at a time and read its answer (`Content-Length` framed, as the API answers),
//! like `wrk -t2 -c50`. The same code sends the `Bearer` row, one request repeated, so the two
//! rows differ only in what the server does.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use hashgate_protocol::{
    base64url,
    dpop_client::{jti_from_random, thumbprint, P256PublicKey, Proof},
};
use p256::ecdsa::{signature::Signer as _, Signature, SigningKey};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{Result, TaskError};

/// What one load run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadResult {
    /// Requests answered (any status).
    pub requests: u64,
    /// Answers that were not 2xx.
    pub non_2xx: u64,
    /// Connections that failed (refused, reset, a malformed answer).
    pub socket_errors: u64,
    /// Requests answered per second of the run.
    pub requests_per_sec: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
}

/// A DPoP key pair for the bench: the private key signs proofs; the thumbprint is what the
/// fake issuer binds the access token to (`cnf.jkt`, RFC 9449 §6.1).
pub struct DpopKey {
    signing: SigningKey,
    public: P256PublicKey,
}

impl DpopKey {
    /// A fresh random P-256 key.
    pub fn generate() -> Result<Self> {
        let signing = SigningKey::random(&mut rand::rngs::OsRng);
        let point = signing.verifying_key().to_encoded_point(false);
        let public = P256PublicKey::from_uncompressed_point(point.as_bytes())
            .map_err(|e| TaskError::Missing(format!("the bench's DPoP key: {e}")))?;
        Ok(DpopKey { signing, public })
    }

    /// The key's JWK thumbprint (RFC 7638), base64url.
    pub fn jkt(&self) -> String {
        thumbprint(&Sha256::digest(self.public.thumbprint_input().as_bytes()).into())
    }

    /// A signed proof for `GET url` carrying `access_token` (`ath`), with a fresh `jti`.
    pub fn proof(&self, url: &str, access_token: &str, iat: i64) -> Result<String> {
        let mut random = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let jti = jti_from_random(&random);
        let ath: [u8; 32] = Sha256::digest(access_token.as_bytes()).into();
        let input = Proof {
            key: &self.public,
            htm: "GET",
            htu: url,
            iat,
            jti: &jti,
            nonce: None,
            access_token_sha256: Some(&ath),
        }
        .signing_input()
        .map_err(|e| TaskError::Missing(format!("a DPoP proof for {url}: {e}")))?;
        let signature: Signature = self.signing.sign(input.as_bytes());
        Ok(format!(
            "{input}.{}",
            base64url::encode(&signature.to_bytes())
        ))
    }
}

/// `GET path` on `addr` with `Authorization: <scheme> <token>` and, when given, a `DPoP`
/// header: the exact bytes sent.
pub fn request(
    addr: SocketAddr,
    path: &str,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> Vec<u8> {
    let mut text =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {scheme} {token}\r\n");
    if let Some(proof) = proof {
        text.push_str("DPoP: ");
        text.push_str(proof);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// Sends `requests` in order (each once; one request is repeated), over `connections`
/// keep-alive connections, until all are sent or `limit` has passed.
pub fn run(
    addr: SocketAddr,
    requests: Vec<Vec<u8>>,
    repeat: bool,
    connections: usize,
    limit: Duration,
) -> Result<LoadResult> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| TaskError::Spawn {
            command: "the load generator's runtime".to_owned(),
            source,
        })?;
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + limit;
    let results: Vec<(Vec<Duration>, u64, u64)> = runtime.block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|_| {
                let (requests, next) = (Arc::clone(&requests), Arc::clone(&next));
                tokio::spawn(connection(addr, requests, next, repeat, deadline))
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            if let Ok(result) = task.await {
                results.push(result);
            }
        }
        results
    });
    let elapsed = started.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    let mut latencies: Vec<Duration> = Vec::new();
    let (mut non_2xx, mut socket_errors) = (0, 0);
    for (l, bad, errors) in results {
        latencies.extend(l);
        non_2xx += bad;
        socket_errors += errors;
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Ok(LoadResult {
        requests: latencies.len() as u64,
        non_2xx,
        socket_errors,
        requests_per_sec: latencies.len() as f64 / elapsed,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
    })
}

/// One connection's loop: latencies, non-2xx answers, socket errors.
async fn connection(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    next: Arc<AtomicUsize>,
    repeat: bool,
    deadline: Instant,
) -> (Vec<Duration>, u64, u64) {
    let (mut latencies, mut non_2xx, mut errors) = (Vec::new(), 0, 0);
    let mut stream = None;
    let mut buffer = vec![0u8; 16 * 1024];
    while Instant::now() < deadline {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let request = if repeat {
            requests.first()
        } else {
            requests.get(index)
        };
        let Some(request) = request else {
            break;
        };
        if stream.is_none() {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    errors += 1;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else {
            continue;
        };
        let sent = Instant::now();
        match exchange(s, request, &mut buffer).await {
            Some(status) => {
                latencies.push(sent.elapsed());
                if !(200..300).contains(&status) {
                    non_2xx += 1;
                }
            }
            None => {
                errors += 1;
                stream = None;
            }
        }
    }
    (latencies, non_2xx, errors)
}

/// Writes `request` and reads one answer; its status, or `None` if the connection failed.
async fn exchange(
    stream: &mut tokio::net::TcpStream,
    request: &[u8],
    buffer: &mut [u8],
) -> Option<u16> {
    stream.write_all(request).await.ok()?;
    let mut filled = 0;
    loop {
        let n = stream.read(buffer.get_mut(filled..)?).await.ok()?;
        if n == 0 {
            return None;
        }
        filled += n;
        let head = buffer.get(..filled)?;
        let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let text = std::str::from_utf8(head.get(..end)?).ok()?;
        let status: u16 = text.get(9..12)?.parse().ok()?;
        let length: usize = text
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        let total = end + 4 + length;
        while filled < total {
            let n = stream.read(buffer.get_mut(filled..)?).await.ok()?;
            if n == 0 {
                return None;
            }
            filled += n;
        }
        return Some(status);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use p256::ecdsa::{signature::Verifier as _, VerifyingKey};

    use super::*;

    // RFC 9449 §4.2: every proof has its own jti, names the exact URL and method, binds the
    // token by `ath`, and verifies with the key its header carries.
    #[test]
    fn every_proof_is_fresh_bound_to_the_token_and_verifies_with_its_key() {
        let key = DpopKey::generate().unwrap();
        let url = "http://127.0.0.1:4000/api/private";
        let (a, b) = (
            key.proof(url, "token-a", 1_700_000_000).unwrap(),
            key.proof(url, "token-a", 1_700_000_000).unwrap(),
        );
        assert_ne!(a, b, "two proofs share a jti");
        let claims = |proof: &str| -> serde_json::Value {
            let part = proof.split('.').nth(1).unwrap();
            serde_json::from_slice(&base64url::decode(part).unwrap()).unwrap()
        };
        let c = claims(&a);
        assert_eq!(c["htu"], url);
        assert_eq!(c["htm"], "GET");
        let ath: [u8; 32] = Sha256::digest(b"token-a").into();
        assert_eq!(c["ath"], base64url::encode(&ath));
        assert_ne!(claims(&a)["jti"], claims(&b)["jti"]);

        let (input, signature) = a.rsplit_once('.').unwrap();
        let signature = Signature::from_slice(&base64url::decode(signature).unwrap()).unwrap();
        let verifying = VerifyingKey::from(&key.signing);
        assert!(verifying.verify(input.as_bytes(), &signature).is_ok());
        assert!(verifying.verify(b"another input", &signature).is_err());
    }

    // The request names the scheme and carries the proof only when there is one.
    #[test]
    fn requests_carry_the_scheme_and_the_proof_header_only_with_dpop() {
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let bearer = String::from_utf8(request(addr, "/api/private", "Bearer", "t", None)).unwrap();
        assert!(bearer.contains("Authorization: Bearer t\r\n"));
        assert!(!bearer.contains("DPoP:"));
        let dpop =
            String::from_utf8(request(addr, "/api/private", "DPoP", "t", Some("p"))).unwrap();
        assert!(dpop.contains("Authorization: DPoP t\r\nDPoP: p\r\n\r\n"));
    }
}
