//! `/login` and `/register`: one form, two purposes. After success the shopper
//! goes back where they came from (`?next=`), only ever to a path on this site.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::account::use_account;
use crate::api::{Account, Credentials};
use crate::client;

/// Which of the two forms.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Login,
    Register,
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
    let account = use_account();
    let query = use_query_map();
    let navigate = use_navigate();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let (title, action, endpoint, switch_text, switch_path) = match purpose {
        Purpose::Login => (
            "Log in",
            "Log in",
            "/api/auth/login",
            "No account yet? Create one",
            "/register",
        ),
        Purpose::Register => (
            "Create an account",
            "Create account",
            "/api/auth/register",
            "Have an account? Log in",
            "/login",
        ),
    };
    let next = move || safe_next(query.read().get("next"));
    let switch_href = move || format!("{switch_path}?next={}", next());

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let credentials = Credentials {
            username: username.get_untracked(),
            password: password.get_untracked(),
        };
        let navigate = navigate.clone();
        let destination = next();
        client::spawn(async move {
            match client::post::<_, Account>(endpoint, &credentials).await {
                Ok(reply) => match reply.body {
                    Ok(_) => {
                        account.refresh();
                        navigate(&destination, NavigateOptions::default());
                    }
                    Err(refusal) => error.set(Some(refusal.message)),
                },
                Err(_) => error.set(Some("The connection failed. Try again.".into())),
            }
            let _ = pending.try_set(false);
        });
    };

    view! {
        <Title text=format!("{title} · Flash sale")/>
        <section class="auth">
            <h1>{title}</h1>
            <form on:submit=submit>
                <label for="username">"Username"</label>
                <input
                    id="username"
                    name="username"
                    autocomplete="username"
                    required
                    minlength="3"
                    maxlength="32"
                    prop:value=move || username.get()
                    on:input=move |event| username.set(event_target_value(&event))
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete=if purpose == Purpose::Login { "current-password" } else { "new-password" }
                    required
                    minlength="8"
                    prop:value=move || password.get()
                    on:input=move |event| password.set(event_target_value(&event))
                />
                <p class="form-error" role="alert">{move || error.get()}</p>
                <button type="submit" disabled=move || pending.get()>{action}</button>
            </form>
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
