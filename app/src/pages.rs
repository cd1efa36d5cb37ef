//! The pages of the shopper site, one module each.

/// A page loaded on demand: `$route` is the lazy route (its own WASM chunk in the
/// release build) whose view is the component `$page`. One definition for every
/// lazy page, so the split stays the same shape everywhere.
macro_rules! lazy_page {
    ($(#[$attr:meta])* $route:ident => $page:ident) => {
        $(#[$attr])*
        pub struct $route;

        #[leptos_router::lazy_route]
        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(this: Self) -> leptos::prelude::AnyView {
                let $route = this;
                leptos::prelude::IntoAny::into_any(leptos::view! { <$page/> })
            }
        }
    };
}

pub mod admin;
mod auth;
mod home;
mod not_found;
mod orders;
mod sale;

pub use auth::{LoginPage, LoginRoute, RegisterPage, RegisterRoute};
pub use home::{HomePage, HomeRoute};
pub use not_found::NotFound;
pub use orders::{OrderPage, OrderRoute, OrdersPage, OrdersRoute};
pub use sale::SalePage;
