//! The provider started in-process on a real socket, as the end-to-end tests do.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn serve_answers_on_a_real_socket_with_the_issuer_it_was_given() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = format!("http://{addr}"); // the trailing slash is added
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::common::demo_config();
    config
        .clients
        .push(hashgate_idp::ClientConfig::spa("e2e", "E2E App", "http://127.0.0.1:45678").unwrap());
    let settings = hashgate_idp::Settings::new(issuer.clone(), dir.path(), config)
        .with_signing_key_pem(crate::common::key_pem());
    let server = tokio::spawn(hashgate_idp::serve_settings(listener, settings));

    let res = http_get(addr, "/.well-known/openid-configuration").await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(res.contains(&format!("\"issuer\":\"{issuer}/\"")), "{res}");
    let res = http_get(
        addr,
        "/authorize?client_id=e2e&redirect_uri=http%3A%2F%2F127.0.0.1%3A45678%2Fcallback&response_type=token&scope=openid",
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 302"), "{res}");
    assert!(res.contains("location: /login?tx="), "{res}");
    server.abort();
}

#[tokio::test]
async fn a_broken_config_file_names_the_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idp.toml");
    std::fs::write(
        &path,
        "[[clients]]\nclient_id = \"a\"\nname = \"A\"\ncallbacks = [\"not a url\"]\n",
    )
    .unwrap();
    let err = hashgate_idp::Config::load(&path).unwrap_err().to_string();
    assert!(err.contains("idp.toml:4:"), "{err}");
    assert!(
        err.contains("relative URL") || err.contains("invalid"),
        "{err}"
    );
    let err = hashgate_idp::Config::load(&dir.path().join("missing.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.toml"), "{err}");
}
