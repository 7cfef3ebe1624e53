//! Pending-login floods (`idp/README.md`, "Flood caps"): every `/authorize` that shows the
//! login page stores the request, so each network (IPv6 /64, /48, /32; IPv4 address, /24),
//! and everyone together, may hold only so many. A full network pushes out its own oldest
//! pending logins and a full store those of the network holding the most: nobody is
//! refused, and a flood costs only the flooding network.

use std::sync::Arc;

use axum::http::StatusCode;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::common::*;

const FLOOD: usize = 20_000;
const CONCURRENCY: usize = 32;

fn now() -> i64 {
    let since = std::time::UNIX_EPOCH.elapsed().unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

/// Whether the login page of `page` is still live (its pending login was not pushed out).
async fn still_pending(browser: &mut Browser, page: &Resp) -> bool {
    let res = browser
        .get(&format!("/login?tx={}", page.hidden("tx")))
        .await;
    match res.status {
        StatusCode::OK => true,
        StatusCode::BAD_REQUEST => {
            assert!(res.body.contains("This login has expired"), "{}", res.body);
            false
        }
        other => panic!("unexpected {other}: {}", res.body),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_authorize_requests_from_one_address_keeps_only_its_newest_pending_logins() {
    // idp/README.md (Flood caps): 20 000 requests over real HTTP from one address leave at
    // most max_pending_per_ip pending logins; the address itself and everyone else still
    // log in.
    let idp = Idp::new();
    let cap = u64::from(idp.state.config().transactions.max_pending_per_ip);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(hashgate_idp::serve_state(listener, idp.state.clone()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("http://{addr}{}", authorize_uri(&spa_params(&[])));
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut requests = JoinSet::new();
    for _ in 0..FLOOD {
        let permit = slots.clone().acquire_owned().await.unwrap();
        let (client, url) = (client.clone(), url.clone());
        requests.spawn(async move {
            let res = client.get(url).send().await.unwrap();
            drop(permit);
            res.status()
        });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::FOUND, "nobody is refused");
    }
    let store = hashgate_idp::store::Store::open(idp.dir.path()).unwrap();
    let stored = store.pending_transactions(now()).unwrap();
    assert!(stored <= cap, "{stored} rows, the cap is {cap}");

    // The flooding address's newest login works; so does another address's.
    for ip in ["127.0.0.1", "127.0.0.2"] {
        let f = idp
            .browser()
            .at_ip(ip)
            .log_in(&spa_params(&[]), "alice", "alice-password")
            .await
            .fragment();
        assert!(f.contains_key("access_token"), "{f:?}");
    }
    server.abort();
}

#[tokio::test]
async fn a_flood_from_a_hundred_64s_of_one_48_leaves_an_unrelated_visitor_signing_in() {
    // idp/README.md (Flood caps): 200 pending logins from each of 100 /64 networks inside
    // one /48, all through a trusted proxy, fill what used to be the whole store; the /48
    // keeps at most max_pending_per_site of them, and a visitor from an unrelated
    // address behind the same proxy completes a login.
    let idp = Idp::with_config(|c| c.throttle.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    let site_cap = u64::from(idp.state.config().transactions.max_pending_per_site);
    for net in 0..100u32 {
        let mut attacker = idp.browser().at_ip("127.0.0.1");
        for host in 1..=200u32 {
            attacker.forwarded_for = Some(format!("2001:db8:77:{net:x}::{host:x}"));
            let res = attacker.get(&authorize_uri(&spa_params(&[]))).await;
            assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
        }
    }
    let store = hashgate_idp::store::Store::open(idp.dir.path()).unwrap();
    let stored = store.pending_transactions(now()).unwrap();
    assert!(
        stored <= site_cap,
        "{stored} rows, the /48 may hold {site_cap}"
    );

    let f = idp
        .browser()
        .via_proxy("127.0.0.1", "198.51.100.7")
        .log_in(&spa_params(&[]), "alice", "alice-password")
        .await
        .fragment();
    assert!(f.contains_key("access_token"), "{f:?}");
}

#[tokio::test]
async fn ipv6_addresses_of_one_64_network_share_one_pending_login_cap() {
    // idp/README.md (Flood caps): the per-address cap counts an IPv6 /64 as one address;
    // over it, the /64's oldest pending login goes, and other /64s keep theirs.
    let idp = Idp::with_config(|c| c.transactions.max_pending_per_ip = 2);
    let mut neighbour = idp.browser().at_ip("2001:db8:5:6::1");
    let theirs = neighbour.login_page(&spa_params(&[])).await;
    let mut pages = Vec::new();
    for host in ["2001:db8:5:5::1", "2001:db8:5:5::2", "2001:db8:5:5:abcd::9"] {
        let mut b = idp.browser().at_ip(host);
        let page = b.login_page(&spa_params(&[])).await;
        pages.push((b, page));
    }
    let mut live = Vec::new();
    for (b, page) in &mut pages {
        live.push(still_pending(b, page).await);
    }
    assert_eq!(live, [false, true, true]);
    assert!(still_pending(&mut neighbour, &theirs).await);
}

#[tokio::test]
async fn a_full_store_pushes_out_the_heaviest_network_and_lets_a_newcomer_log_in() {
    // idp/README.md (Flood caps): max_pending_total bounds the store whatever the number
    // of networks; the network holding the most loses its oldest, not the newcomer nor
    // a light network; finished logins are not pending any more.
    let idp = Idp::with_config(|c| {
        c.transactions.max_pending_per_ip = 2;
        c.transactions.max_pending_per_site = 2;
        c.transactions.max_pending_per_allocation = 2;
        c.transactions.max_pending_total = 3;
    });
    let mut heavy = idp.browser().at_ip("198.51.100.1");
    let oldest = heavy.login_page(&spa_params(&[])).await;
    let newer = heavy.login_page(&spa_params(&[])).await;
    let mut light = idp.browser().at_ip("203.0.113.1");
    let light_page = light.login_page(&spa_params(&[])).await;

    let f = idp
        .browser()
        .at_ip("192.0.2.1")
        .log_in(&spa_params(&[]), "alice", "alice-password")
        .await
        .fragment();
    assert!(f.contains_key("access_token"), "{f:?}");
    assert!(!still_pending(&mut heavy, &oldest).await);
    assert!(still_pending(&mut heavy, &newer).await);
    let res = light.submit_login(&light_page, "bob", "bob-password").await;
    let f = light.consent(&res, "allow").await.fragment();
    assert!(f.contains_key("access_token"), "{f:?}");
    assert_eq!(
        hashgate_idp::store::Store::open(idp.dir.path())
            .unwrap()
            .pending_transactions(now())
            .unwrap(),
        1
    );
}
