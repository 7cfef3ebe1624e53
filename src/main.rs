//! Boots the Hashgate single-page app: `trunk serve` (or `cargo xtask dev`) builds and serves it.
//! Everything else lives in the library crate so that it can be read and tested on its own.

fn main() {
    // Development builds print a panic's message and location to the console. The release
    // build (`panic = "abort"`) leaves the hook and its formatting out of the download: a panic
    // there shows as a wasm `unreachable` trap in the console.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(hashgate::App);
}
