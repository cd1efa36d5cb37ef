//! The WASM entry point. It holds no logic: it installs the panic hook and hydrates
//! the page the server rendered, so every component lives in `app`.

/// Called by the generated JS once the WASM module is loaded.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // `hydrate_lazy`: the admin routes are lazily loaded WASM chunks.
    leptos::mount::hydrate_lazy(app::App);
}
