//! Failed-login throttling under bursts, against a named user, and behind a reverse
//! proxy (`idp/README.md`, "Throttling" and "Behind a reverse proxy").

use axum::http::StatusCode;
use tokio::task::JoinSet;

use crate::common::*;

const THROTTLED: &str = "Too many failed login attempts. Wait a few minutes, then try again.";

fn max_failures(idp: &Idp) -> usize {
    usize::try_from(idp.state.config().throttle.max_failures).unwrap()
}

/// A same-origin login post whose proxy says it came from `forwarded`.
fn via_proxy(forwarded: &str) -> Vec<(&str, &str)> {
    let mut headers = SAME_ORIGIN.to_vec();
    headers.push(("x-forwarded-for", forwarded));
    headers
}

async fn post_login(
    b: &mut Browser,
    page: &Resp,
    user: &str,
    pw: &str,
    headers: &[(&str, &str)],
) -> Resp {
    let (tx, csrf) = (page.hidden("tx"), page.hidden("csrf"));
    let form = [
        ("tx", tx.as_str()),
        ("csrf", &csrf),
        ("username", user),
        ("password", pw),
    ];
    b.post_with("/login", &form, headers).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_parallel_wrong_passwords_for_one_user_are_checked_at_most_max_failures_times() {
    // idp/README.md (Throttling): an attempt is counted before its password is checked, so
    // a burst of posts cannot try more passwords than the limit, and the rest are refused.
    let idp = Idp::new();
    let max = max_failures(&idp);
    let mut b = idp.browser().at_ip("198.51.100.7");
    let page = b.login_page(&spa_params(&[])).await;
    let mut posts = JoinSet::new();
    for _ in 0..40 {
        let req = b.login_request(&page, "alice", "not-her-password");
        let app = idp.app.clone();
        posts.spawn(async move { send(&app, req).await });
    }
    let (mut checked, mut refused) = (0, 0);
    while let Some(res) = posts.join_next().await {
        let res = res.unwrap();
        match res.status {
            StatusCode::UNAUTHORIZED => {
                assert!(res.body.contains("Wrong username or password."));
                checked += 1;
            }
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(res.body.contains(THROTTLED), "{}", res.body);
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", res.body),
        }
    }
    assert!(
        checked <= max,
        "{checked} passwords were tried, the limit is {max}"
    );
    assert_eq!(checked + refused, 40);
    assert_eq!(idp.state.password_checks(), u64::try_from(checked).unwrap());
}

#[tokio::test]
async fn an_ipv6_client_taking_a_new_address_per_guess_is_still_one_client() {
    // idp/README.md (Throttling): IPv6 addresses count per /64 network, since a host picks
    // its own interface identifier and can change it for every request.
    let idp = Idp::new();
    let max = max_failures(&idp);
    for host in 1..=max {
        let mut b = idp.browser().at_ip(&format!("2001:db8:7:7::{host:x}"));
        let page = b.login_page(&spa_params(&[])).await;
        let res = b.submit_login(&page, "bob", "guess").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let mut next = idp.browser().at_ip("2001:db8:7:7:ffff:1:2:3");
    let page = next.login_page(&spa_params(&[])).await;
    let res = next.submit_login(&page, "alice", "alice-password").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert!(res.body.contains(THROTTLED), "{}", res.body);
    // The next /64 is another client.
    let mut neighbour = idp.browser().at_ip("2001:db8:7:8::1");
    let f = neighbour
        .log_in(&spa_params(&[]), "alice", "alice-password")
        .await
        .fragment();
    assert!(f.contains_key("access_token"), "{f:?}");
}

#[tokio::test]
async fn the_right_password_from_a_clean_address_passes_a_username_under_attack() {
    // idp/README.md (Throttling): knowing a username is not enough to keep its owner out.
    // Failing addresses are refused for that user; a clean one still gets its try.
    let idp = Idp::new();
    let max = max_failures(&idp);
    let mut attacker = idp.browser().at_ip("198.51.100.7");
    let page = attacker.login_page(&spa_params(&[])).await;
    for _ in 0..max {
        let res = attacker.submit_login(&page, "alice", "guess").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = attacker
        .submit_login(&page, "alice", "alice-password")
        .await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the failing address stays out"
    );

    // A second attacking address elsewhere gets one guess at the locked username, no
    // more; a clean address in the first attacker's /24 gets none.
    let mut other = idp.browser().at_ip("192.0.2.8");
    let page = other.login_page(&spa_params(&[])).await;
    let res = other.submit_login(&page, "alice", "guess").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = other.submit_login(&page, "alice", "another-guess").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.body.contains(THROTTLED));
    let mut same_site = idp.browser().at_ip("198.51.100.8");
    let page = same_site.login_page(&spa_params(&[])).await;
    let res = same_site.submit_login(&page, "alice", "guess").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);

    // Alice, from her own address, logs in.
    let mut alice = idp.browser().at_ip("203.0.113.5");
    let f = alice
        .log_in(&spa_params(&[]), "alice", "alice-password")
        .await
        .fragment();
    assert!(f.contains_key("access_token"), "{f:?}");
}

#[tokio::test]
async fn wrong_passwords_from_a_hundred_64s_of_one_48_are_mostly_refused_and_the_owner_still_signs_in(
) {
    // idp/README.md (Throttling): failures for a username count per /48, so fresh /64s of
    // an attacking /48 do not each get a clean-address guess; the right password from an
    // unrelated clean address still signs in.
    let idp = Idp::new();
    let max = max_failures(&idp);
    let (mut wrong, mut refused) = (0, 0);
    for net in 0..100u32 {
        let mut b = idp.browser().at_ip(&format!("2001:db8:66:{net:x}::1"));
        let page = b.login_page(&spa_params(&[])).await;
        let res = b.submit_login(&page, "alice", "guess").await;
        match res.status {
            StatusCode::UNAUTHORIZED => wrong += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(res.body.contains(THROTTLED), "{}", res.body);
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", res.body),
        }
    }
    assert!(
        wrong <= max,
        "{wrong} guesses were checked, the limit is {max}"
    );
    assert_eq!(refused, 100 - wrong);
    assert_eq!(idp.state.password_checks(), u64::try_from(wrong).unwrap());

    let mut alice = idp.browser().at_ip("2001:db8:4242::7");
    let f = alice
        .log_in(&spa_params(&[]), "alice", "alice-password")
        .await
        .fragment();
    assert!(f.contains_key("access_token"), "{f:?}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_throttled_on_its_own() {
    // idp/README.md (Behind a reverse proxy): from a trusted proxy, the client is the
    // right-most X-Forwarded-For entry that is not a proxy; entries left of it were
    // written by the client and are not believed.
    let idp = Idp::with_config(|c| c.throttle.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    let max = max_failures(&idp);
    let mut b = idp.browser().at_ip("127.0.0.1");
    let page = b.login_page(&spa_params(&[])).await;
    for i in 0..max {
        let user = format!("nobody{i}");
        let res = post_login(
            &mut b,
            &page,
            &user,
            "x",
            &via_proxy("6.6.6.6, 198.51.100.7"),
        )
        .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = post_login(
        &mut b,
        &page,
        "bob",
        "bob-password",
        &via_proxy("198.51.100.7"),
    )
    .await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the forwarded client is refused"
    );
    // Another client through the same proxy is not, even claiming the refused address.
    let headers = via_proxy("198.51.100.7, 203.0.113.5");
    let res = post_login(&mut b, &page, "bob", "bob-password", &headers).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    // idp/README.md (Behind a reverse proxy): a client cannot choose its address: without
    // a trusted proxy in between, X-Forwarded-For changes nothing.
    for trusted in [vec![], vec!["127.0.0.1".parse().unwrap()]] {
        let idp = Idp::with_config(|c| c.throttle.trusted_proxies = trusted);
        let max = max_failures(&idp);
        let mut b = idp.browser().at_ip("198.51.100.7");
        let page = b.login_page(&spa_params(&[])).await;
        for i in 0..max {
            let (user, client) = (format!("nobody{i}"), format!("203.0.113.{i}"));
            let res = post_login(&mut b, &page, &user, "x", &via_proxy(&client)).await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        }
        let headers = via_proxy("203.0.113.200");
        let res = post_login(&mut b, &page, "bob", "bob-password", &headers).await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    }
}
