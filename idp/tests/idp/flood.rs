//! Pending-login floods (`idp/README.md`, "Flood caps"): every `/authorize` that shows the
//! login page stores the request, so one address, and everyone together, may hold only
//! so many; over a cap the answer is a 429 error page, never a redirect.

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

fn assert_over_the_cap(res: &Resp, sentence: &str) {
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert!(res.header("location").is_none(), "never a redirect");
    assert!(
        res.body.contains("<h1>Too many pending logins</h1>"),
        "{}",
        res.body
    );
    assert!(res.body.contains(sentence), "{}", res.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_authorize_requests_from_one_address_stays_under_its_cap() {
    // idp/README.md (Flood caps): 20 000 requests over real HTTP from one address leave at
    // most max_pending_per_ip pending logins, and someone else still logs in.
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
    let (mut pending, mut refused) = (0u64, 0u64);
    while let Some(status) = requests.join_next().await {
        match status.unwrap() {
            StatusCode::FOUND => pending += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(pending + refused, u64::try_from(FLOOD).unwrap());
    assert!(pending <= cap, "{pending} logins pending, the cap is {cap}");
    let store = hashgate_idp::store::Store::open(idp.dir.path()).unwrap();
    let stored = store.pending_transactions(now()).unwrap();
    assert!(stored <= cap, "{stored} rows, the cap is {cap}");

    // The flooding address gets the error page, not a login page.
    let res = idp
        .browser()
        .at_ip("127.0.0.1")
        .get(&authorize_uri(&spa_params(&[])))
        .await;
    assert_over_the_cap(&res, "Too many logins were started from your network");
    // Another address logs in normally.
    let f = idp
        .browser()
        .at_ip("127.0.0.2")
        .log_in(&spa_params(&[]), "alice", "alice-password")
        .await
        .fragment();
    assert!(f.contains_key("access_token"), "{f:?}");
    server.abort();
}

#[tokio::test]
async fn ipv6_addresses_of_one_64_network_share_one_pending_login_cap() {
    // idp/README.md (Flood caps): the per-address cap counts an IPv6 /64 as one address.
    let idp = Idp::with_config(|c| c.transactions.max_pending_per_ip = 2);
    for host in ["2001:db8:5:5::1", "2001:db8:5:5::2"] {
        idp.browser().at_ip(host).login_page(&spa_params(&[])).await;
    }
    let res = idp
        .browser()
        .at_ip("2001:db8:5:5:abcd::9")
        .get(&authorize_uri(&spa_params(&[])))
        .await;
    assert_over_the_cap(&res, "started from your network");
    idp.browser()
        .at_ip("2001:db8:5:6::1")
        .login_page(&spa_params(&[]))
        .await;
}

#[tokio::test]
async fn the_total_cap_holds_across_addresses_and_a_finished_login_frees_its_place() {
    // idp/README.md (Flood caps): max_pending_total bounds the store whatever the number
    // of addresses; finished logins are not pending any more.
    let idp = Idp::with_config(|c| {
        c.transactions.max_pending_per_ip = 2;
        c.transactions.max_pending_total = 3;
    });
    let mut first = idp.browser().at_ip("198.51.100.1");
    let page = first.login_page(&spa_params(&[])).await;
    for ip in ["198.51.100.2", "198.51.100.3"] {
        idp.browser().at_ip(ip).login_page(&spa_params(&[])).await;
    }
    let mut late = idp.browser().at_ip("198.51.100.4");
    let res = late.get(&authorize_uri(&spa_params(&[]))).await;
    assert_over_the_cap(&res, "too many unfinished logins");
    // The first login is finished (password, then consent): its place is free.
    let res = first.submit_login(&page, "alice", "alice-password").await;
    first.consent(&res, "allow").await;
    late.login_page(&spa_params(&[])).await;
}
