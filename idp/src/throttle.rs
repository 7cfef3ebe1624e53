//! Failed-login throttling, in memory: a sliding window of attempt times per client IP
//! and per username.
//!
//! An attempt is counted *before* its password is checked and released only when the
//! password was right, so parallel posts cannot each slip past the limit while the
//! others are still being verified.
//!
//! - **Per IP**: after `max_failures` attempts in the window that were not released, the
//!   IP may not try any username until old ones leave the window.
//! - **Per username**: after `max_failures`, the username is closed to every IP that has
//!   an unreleased attempt in the window. An IP with none still gets its try, so the
//!   right password from a clean address logs in: knowing a username is not enough to
//!   keep its owner out (see `idp/README.md`, "Throttling").
//! - **Per username and site**: after `max_failures` for one username from one site
//!   (IPv6 /48, IPv4 /24, see [`Networks`]), that site may not try that username, even
//!   from a clean address. Without it, every fresh /64 of a /48 (65 536 of them) would
//!   get one more try at a username under attack. Other sites keep their clean-address
//!   try, so the owner still signs in from home.
//!
//! "IP" means [`address_block`]: an IPv4 address, or the /64 network of an IPv6 one.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What per-address limits (this throttle, the pending-login cap) count under: an IPv4
/// address as it is, an IPv6 address as its /64 network (`2001:db8:1:2::/64`). One IPv6
/// host picks its own interface identifier (RFC 4291 §2.5.1) and may change it at will
/// (RFC 8981), so a limit per full address would be a limit per attempt. Anything else
/// (`unknown`) is its own key.
pub fn address_block(ip: &str) -> String {
    match ip.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V6(v6)) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// The networks a client address belongs to, finest first, as the per-network limits
/// (the pending-login caps, the per-username-and-network login count) see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Networks {
    /// [`address_block`]: the IPv4 address, or the IPv6 /64.
    pub block: String,
    /// The IPv6 /48 (RFC 6177: what one site is usually given) or the IPv4 /24.
    pub site: String,
    /// The IPv6 /32 (a usual registry allocation to one provider), or for IPv4 the
    /// /24 again: an IPv4 site is already a scarce, shared address block.
    pub allocation: String,
}

/// The networks of `ip` (see [`Networks`]); anything that is not an address
/// (`unknown`) is its own network at every level.
pub fn networks(ip: &str) -> Networks {
    match ip.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V6(v6)) => {
            let [a, b, c, ..] = v6.segments();
            Networks {
                block: address_block(ip),
                site: format!("{}/48", Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0)),
                allocation: format!("{}/32", Ipv6Addr::new(a, b, 0, 0, 0, 0, 0, 0)),
            }
        }
        Ok(IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            let site = format!("{a}.{b}.{c}.0/24");
            Networks {
                block: v4.to_string(),
                allocation: site.clone(),
                site,
            }
        }
        Err(_) => Networks {
            block: ip.to_owned(),
            site: ip.to_owned(),
            allocation: ip.to_owned(),
        },
    }
}

/// Beyond this many tracked keys, stale entries are dropped to bound memory.
const MAX_KEYS: usize = 10_000;

/// Counts login attempts per client IP and per username inside a time window.
pub struct Throttle {
    max_failures: usize,
    window: Duration,
    attempts: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(String),
    User(String),
    UserSite(String, String),
}

/// A counted attempt. Drop it (the password was wrong, or the check never finished)
/// and it stays counted as a failure; [`Throttle::succeeded`] releases it.
#[derive(Debug)]
#[must_use = "an attempt must be resolved with Throttle::succeeded or left as a failure"]
pub struct Attempt {
    ip: Key,
    user: Key,
    user_site: Key,
    at: Instant,
}

impl Throttle {
    /// Refuses after `max_failures` failures within `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: usize::try_from(max_failures).unwrap_or(usize::MAX).max(1),
            window,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    fn live<'a>(
        &self,
        map: &'a mut HashMap<Key, VecDeque<Instant>>,
        key: &Key,
        now: Instant,
    ) -> Option<&'a mut VecDeque<Instant>> {
        let q = map.get_mut(key)?;
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        Some(q)
    }

    /// Counts a login attempt for `username` from `ip`, or `None` when the limits
    /// refuse it. Usernames are compared case-insensitively.
    pub fn begin(&self, username: &str, ip: &str) -> Option<Attempt> {
        let now = Instant::now();
        let networks = networks(ip);
        let name = username.to_lowercase();
        let (ip, user, user_site) = (
            Key::Ip(networks.block),
            Key::User(name.clone()),
            Key::UserSite(name, networks.site),
        );
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let from_ip = self.live(&mut map, &ip, now).map_or(0, |q| q.len());
        let for_user = self.live(&mut map, &user, now).map_or(0, |q| q.len());
        let from_site = self.live(&mut map, &user_site, now).map_or(0, |q| q.len());
        if from_ip >= self.max_failures
            || (for_user >= self.max_failures && from_ip > 0)
            || from_site >= self.max_failures
        {
            return None;
        }
        if map.len() > MAX_KEYS {
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        for key in [&ip, &user, &user_site] {
            map.entry(key.clone()).or_default().push_back(now);
        }
        Some(Attempt {
            ip,
            user,
            user_site,
            at: now,
        })
    }

    /// The password was right: the attempt no longer counts against the IP, the
    /// username's failures are forgotten, and so are its failures from this site.
    /// Other sites' failures for the username stay: the owner signing in from home
    /// does not hand an attacking site a fresh set of tries.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = map.get_mut(&attempt.ip) {
            if let Some(i) = q.iter().rposition(|t| *t == attempt.at) {
                q.remove(i);
            }
        }
        map.remove(&attempt.user);
        map.remove(&attempt.user_site);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_per_64_network() {
        assert_eq!(address_block("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            address_block("2001:db8:1:2:ffff:1:2:3"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(address_block("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        assert_eq!(address_block("203.0.113.9"), "203.0.113.9");
        assert_eq!(address_block("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(address_block("unknown"), "unknown");
        // A host that takes a new address for every attempt is still one client.
        let t = Throttle::new(3, Duration::from_secs(60));
        for host in 1..=3 {
            let _failed = t.begin("alice", &format!("2001:db8:1:2::{host}")).unwrap();
        }
        assert!(t.begin("bob", "2001:db8:1:2::99").is_none());
        assert!(t.begin("bob", "2001:db8:1:3::1").is_some());
    }

    #[test]
    fn fresh_64s_of_one_48_get_no_more_tries_at_a_username_than_one_address() {
        // idp/README.md (Throttling): failures count per username and /48 (IPv6) or /24
        // (IPv4), so a clean /64 of an attacking /48 gets no try at the username.
        let t = Throttle::new(3, Duration::from_secs(60));
        let allowed = (0..100)
            .filter(|net| {
                t.begin("alice", &format!("2001:db8:9:{net:x}::1"))
                    .is_some()
            })
            .count();
        assert_eq!(allowed, 3);
        let allowed = (1..=100)
            .filter(|host| t.begin("bob", &format!("192.0.2.{host}")).is_some())
            .count();
        assert_eq!(allowed, 3, "an IPv4 /24 is one site");
        // Another site still gets its clean-address try, and the right password there
        // does not reopen the attacking site.
        let ok = t.begin("alice", "2001:db8:10::1").unwrap();
        t.succeeded(ok);
        assert!(t.begin("alice", "2001:db8:9:ffff::1").is_none());
        // Other usernames from the attacking site are untouched by alice's count.
        assert!(t.begin("carol", "2001:db8:9:ffff::1").is_some());
    }

    #[test]
    fn networks_nest_from_block_to_site_to_allocation() {
        let n = networks("2001:db8:1:2:aaaa::1");
        assert_eq!(n.block, "2001:db8:1:2::/64");
        assert_eq!(n.site, "2001:db8:1::/48");
        assert_eq!(n.allocation, "2001:db8::/32");
        let n = networks("::ffff:203.0.113.9");
        assert_eq!(
            (n.block.as_str(), n.site.as_str(), n.allocation.as_str()),
            ("203.0.113.9", "203.0.113.0/24", "203.0.113.0/24")
        );
        assert_eq!(networks("unknown").site, "unknown");
    }

    #[test]
    fn an_ip_is_refused_after_the_limit_for_any_username() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for name in ["a", "b", "c"] {
            let _failed = t.begin(name, "10.0.0.1").unwrap();
        }
        assert!(t.begin("d", "10.0.0.1").is_none());
        assert!(t.begin("d", "10.0.0.2").is_some());
    }

    #[test]
    fn a_locked_username_is_refused_to_failing_ips_but_tried_from_a_clean_one() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for ip in ["10.0.1.1", "10.0.2.1", "10.0.3.1"] {
            let _failed = t.begin("alice", ip).unwrap();
        }
        // Every attacking address has a failure: all are refused for alice.
        assert!(t.begin("ALICE", "10.0.1.1").is_none());
        // A clean address gets its try, and the right password clears alice.
        let ok = t.begin("alice", "192.0.2.7").unwrap();
        assert!(t.begin("alice", "192.0.2.7").is_none(), "one try at a time");
        t.succeeded(ok);
        assert!(t.begin("alice", "10.0.1.1").is_some());
    }

    #[test]
    fn attempts_count_before_they_finish_and_a_success_releases_its_own() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let first = t.begin("bob", "10.0.0.1").unwrap();
        let second = t.begin("bob", "10.0.0.1").unwrap();
        assert!(t.begin("bob", "10.0.0.1").is_none(), "two are in flight");
        t.succeeded(first);
        drop(second);
        assert!(t.begin("carol", "10.0.0.1").is_some());
    }

    #[test]
    fn failures_age_out_of_the_window() {
        let t = Throttle::new(1, Duration::from_millis(20));
        let _failed = t.begin("k", "ip").unwrap();
        assert!(t.begin("k", "ip").is_none());
        std::thread::sleep(Duration::from_millis(30));
        assert!(t.begin("k", "ip").is_some());
    }
}
