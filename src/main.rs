//! Boots the Hashgate single-page app: `trunk serve` (or `cargo xtask dev`) builds and serves it.
//! Everything else lives in the library crate so that it can be read and tested on its own.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(hashgate::App);
}
