//! `/login` and `/register`: one form, two purposes. After success the shopper
//! goes back where they came from (`?next=`), only ever to a path on this site.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::api::Account;
use crate::components::{CredentialsForm, Purpose};

lazy_page! {
    /// `/login`, loaded on demand (the sale page logs shoppers in in place).
    LoginRoute => LoginPage
}

lazy_page! {
    /// `/register`, loaded on demand.
    RegisterRoute => RegisterPage
}

/// `/login`.
#[component]
pub fn LoginPage() -> impl IntoView {
    view! { <AuthForm purpose=Purpose::Login/> }
}

/// `/register`.
#[component]
pub fn RegisterPage() -> impl IntoView {
    view! { <AuthForm purpose=Purpose::Register/> }
}

/// A local path to return to, never another site.
fn safe_next(next: Option<String>) -> String {
    next.filter(|path| path.starts_with('/') && !path.starts_with("//") && !path.contains('\\'))
        .unwrap_or_else(|| "/".into())
}

#[component]
fn AuthForm(purpose: Purpose) -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let (title, switch_text, switch_path) = match purpose {
        Purpose::Login => ("Log in", "No account yet? Create one", "/register"),
        Purpose::Register => ("Create an account", "Have an account? Log in", "/login"),
    };
    let next = move || safe_next(query.read().get("next"));
    let switch_href = move || format!("{switch_path}?next={}", next());
    let done = Callback::new(move |_: Account| {
        navigate(&next(), NavigateOptions::default());
    });

    view! {
        <Title text=format!("{title} · Flash sale")/>
        <section class="auth">
            <h1>{title}</h1>
            <CredentialsForm purpose on_success=done/>
            <p><a href=switch_href>{switch_text}</a></p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/sales/3".into())), "/sales/3");
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some("https://evil.example".into())), "/");
        assert_eq!(safe_next(Some("//evil.example".into())), "/");
        assert_eq!(safe_next(Some("/\\evil.example".into())), "/");
    }
}
