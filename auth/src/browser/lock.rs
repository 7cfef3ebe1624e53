//! The cross-tab lock: Web Locks (`navigator.locks`), or a lease in `localStorage` where the
//! browser has none. Held while a refresh token is redeemed, so that no two tabs present it.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::crypto::random_32;
use super::page::sleep_ms;
use super::web_storage::{storage_get, storage_remove, storage_set, Area};

/// Runs `work` while holding the app-wide lock `name` (Web Locks API, `navigator.locks`): one
/// holder at a time across every tab of this origin. Where the browser lacks Web Locks (or
/// refuses the request), a lease in `localStorage` stands in for it, extended while `work`
/// runs, so that a slow holder never finds a second tab inside the lock with it.
pub async fn with_lock<F, Fut, T>(name: &str, work: F) -> T
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    use futures::future::FutureExt as _;
    use std::future::Future as _;
    let held = match acquire_web_lock(name).await {
        Some(release) => Held::WebLock(release),
        None => Held::Lease(StorageLease::acquire(name).await),
    };
    let value = {
        let lease = match &held {
            Held::Lease(lease) => Some(lease),
            Held::WebLock(_) => None,
        };
        // Extends the lease while `work` runs; ends at once under a Web Lock (fused: polling it
        // again is harmless).
        let extend = async move {
            if let Some(lease) = lease {
                loop {
                    sleep_ms(StorageLease::EXTEND_EVERY_MS).await;
                    lease.extend();
                }
            }
        }
        .fuse();
        let work = work();
        futures::pin_mut!(work, extend);
        // `work` is polled in this one place, so its (large) state machine is compiled once.
        futures::future::poll_fn(|cx| {
            let _ = extend.as_mut().poll(cx);
            work.as_mut().poll(cx)
        })
        .await
    };
    match held {
        Held::WebLock(release) => {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
        Held::Lease(lease) => lease.release(),
    }
    value
}

/// A lock [`with_lock`] holds: a Web Lock (released by calling its function) or a lease.
enum Held {
    WebLock(js_sys::Function),
    Lease(StorageLease),
}

/// Waits for the Web Lock `name`; returns the function that releases it, or `None` when the
/// browser has no Web Locks or refused the request.
async fn acquire_web_lock(name: &str) -> Option<js_sys::Function> {
    use futures::future::{select, Either};
    use std::cell::RefCell;
    use std::rc::Rc;

    let (locks, request) = web_locks()?;
    // The lock is held until the promise the callback returns settles: `held`, which only
    // `release` settles.
    let mut release = None;
    let held = js_sys::Promise::new(&mut |resolve, _| release = Some(resolve));
    let release = release?;
    let (granted_tx, granted_rx) = futures::channel::oneshot::channel::<()>();
    let granted_tx = Rc::new(RefCell::new(Some(granted_tx)));
    let callback = wasm_bindgen::closure::Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(
        move |_lock: JsValue| {
            if let Some(tx) = granted_tx.borrow_mut().take() {
                let _ = tx.send(());
            }
            held.clone()
        },
    );
    let requested = request
        .call2(&locks, &JsValue::from_str(name), callback.as_ref())
        .ok()?
        .dyn_into::<js_sys::Promise>()
        .ok()?;
    // The request's own promise settles only after the lock is released, or at once when the
    // browser refuses it.
    let outcome = select(granted_rx, JsFuture::from(requested)).await;
    // The callback has run (or, the request refused, never will): the closure may go.
    drop(callback);
    match outcome {
        Either::Left((Ok(()), _)) => Some(release),
        _ => None,
    }
}

/// `navigator.locks` and its `request` method, where the browser has them.
fn web_locks() -> Option<(JsValue, js_sys::Function)> {
    let locks = Reflect::get(&web_sys::window()?.navigator(), &"locks".into()).ok()?;
    if !locks.is_object() {
        return None;
    }
    let request = Reflect::get(&locks, &"request".into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    Some((locks, request))
}

/// A lock for browsers without Web Locks: a lease (`owner until`) in `localStorage` that a
/// tab takes when it is free or expired, then reads back to see it won.
struct StorageLease {
    key: String,
    owner: String,
}

impl StorageLease {
    /// How long a lease lasts if its holder never releases it (a closed tab).
    const TTL_MS: f64 = 15_000.0;
    /// How often a holder that is still working extends its lease (well within [`Self::TTL_MS`]).
    const EXTEND_EVERY_MS: u32 = 5_000;

    async fn acquire(name: &str) -> StorageLease {
        let key = format!("hashgate.lock.{name}");
        let owner = random_32()
            .map(|bytes| hashgate_protocol::State::from_random(&bytes).into_secret())
            // Whole milliseconds: `f64`'s Display would bring float formatting into the download.
            .unwrap_or_else(|_| (js_sys::Date::now() as u64).to_string());
        let deadline = js_sys::Date::now() + Self::TTL_MS;
        loop {
            let now = js_sys::Date::now();
            let held = storage_get(Area::Local, &key)
                .and_then(|v| hashgate_protocol::lease::holder(&v, now).map(str::to_owned));
            if held.is_none() || now > deadline {
                let lease = hashgate_protocol::lease::format(&owner, now + Self::TTL_MS);
                let _ = storage_set(Area::Local, &key, &lease);
                // Another tab may have written at the same moment: the last write wins.
                sleep_ms(30).await;
                let winner = storage_get(Area::Local, &key).and_then(|v| {
                    hashgate_protocol::lease::holder(&v, js_sys::Date::now()).map(str::to_owned)
                });
                if winner.as_deref() == Some(owner.as_str()) || now > deadline {
                    return StorageLease { key, owner };
                }
            }
            sleep_ms(100).await;
        }
    }

    /// Pushes the lease's end [`Self::TTL_MS`] from now, if it is still this holder's.
    fn extend(&self) {
        let now = js_sys::Date::now();
        if self.is_mine(now) {
            let lease = hashgate_protocol::lease::format(&self.owner, now + Self::TTL_MS);
            let _ = storage_set(Area::Local, &self.key, &lease);
        }
    }

    fn is_mine(&self, now: f64) -> bool {
        storage_get(Area::Local, &self.key)
            .is_some_and(|v| hashgate_protocol::lease::holder(&v, now) == Some(self.owner.as_str()))
    }

    fn release(self) {
        if self.is_mine(js_sys::Date::now()) {
            storage_remove(Area::Local, &self.key);
        }
    }
}
