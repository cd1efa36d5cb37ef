//! The username-and-password form, for logging in or registering: on its own
//! page (`/login`, `/register`) and, when a session ends mid-sale, in place on
//! the sale page, so the shopper logs in again without leaving it.

use leptos::prelude::*;

use crate::account::use_account;
use crate::api::{Account, Credentials};
use crate::client;

/// Which of the two forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Login,
    Register,
}

impl Purpose {
    /// The button's words.
    pub fn action(self) -> &'static str {
        match self {
            Purpose::Login => "Log in",
            Purpose::Register => "Create account",
        }
    }

    async fn send(self, credentials: Credentials) -> crate::endpoints::Answer<Account> {
        match self {
            Purpose::Login => crate::endpoints::log_in(&credentials).await,
            Purpose::Register => register_with_work(credentials).await,
        }
    }
}

/// Registers, first doing the proof of work the server asks for while
/// registration is busy (none while it is quiet). In a chunk of its own, with
/// the hashing: the sale page, which shows this form when a session ends
/// mid-sale, does not carry it.
#[leptos::lazy]
async fn register_with_work(mut credentials: Credentials) -> crate::endpoints::Answer<Account> {
    // Registration may turn busy between the challenge and the registration:
    // then once more, with the work.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let challenge = crate::endpoints::registration_challenge().await?;
        let mut worked = false;
        if let Ok(challenge) = challenge.body {
            let bits = challenge.difficulty_bits;
            if bits > 0 {
                // Never stopped, so it ends with a nonce.
                if let Some(nonce) = client::solve_work(&challenge.salt, bits, |_| true).await {
                    credentials.challenge = Some(challenge.challenge);
                    credentials.nonce = Some(nonce.to_string());
                    worked = true;
                }
            }
        }
        let answer = crate::endpoints::register(&credentials).await?;
        let busy = answer.code() == Some(crate::api::ErrorCode::CaptchaFailed);
        if !busy || worked || attempts >= 2 {
            return Ok(answer);
        }
    }
}

/// The form; `on_success` runs once the server has set the session cookie (the
/// account signal is refreshed first). `id_prefix` keeps the fields' ids unique
/// when the form sits inside another page; `focus_first` moves the keyboard
/// focus to the username when the form appears in place of what was there.
#[component]
pub fn CredentialsForm(
    purpose: Purpose,
    on_success: Callback<Account>,
    #[prop(default = "")] id_prefix: &'static str,
    #[prop(default = false)] focus_first: bool,
) -> impl IntoView {
    let first_field = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(field) = first_field.get().filter(|_| focus_first) {
            // On the next frame: in place, the form arrives in its own chunk
            // through a `Suspense`, and is not in the document yet when the
            // field first exists.
            request_animation_frame(move || {
                let _ = field.focus();
            });
        }
    });
    let account = use_account();
    // The fields are read when the form is sent, not mirrored in signals: a
    // shopper on a slow network types before the page's script has arrived, and
    // hydration would have set a mirrored field back to the signal's "".
    let password_field = NodeRef::<leptos::html::Input>::new();
    let typed = |field: NodeRef<leptos::html::Input>| {
        field
            .get_untracked()
            .map(|input| input.value())
            .unwrap_or_default()
    };
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let credentials = Credentials {
            username: typed(first_field),
            password: typed(password_field),
            challenge: None,
            nonce: None,
        };
        client::spawn(async move {
            match purpose.send(credentials).await {
                Ok(reply) => match reply.body {
                    Ok(me) => {
                        account.refresh();
                        on_success.run(me);
                    }
                    Err(refusal) => error.set(Some(refusal.message)),
                },
                Err(_) => error.set(Some("The connection failed. Try again.".into())),
            }
            let _ = pending.try_set(false);
        });
    };
    let username_id = format!("{id_prefix}username");
    let password_id = format!("{id_prefix}password");

    view! {
        // Until the page's script has arrived, Enter must not send the form the
        // browser's way (a GET, with the password in the address).
        <form class="credentials" onsubmit="event.preventDefault()" on:submit=submit>
            <label for=username_id.clone()>"Username"</label>
            <input
                node_ref=first_field
                id=username_id
                name="username"
                autocomplete="username"
                required
                minlength="3"
                maxlength="32"
            />
            <label for=password_id.clone()>"Password"</label>
            <input
                node_ref=password_field
                id=password_id
                name="password"
                type="password"
                autocomplete=if purpose == Purpose::Login { "current-password" } else { "new-password" }
                required
                minlength="8"
            />
            <p class="form-error" role="alert">{move || error.get()}</p>
            <button type="submit" disabled=move || pending.get()>{purpose.action()}</button>
        </form>
    }
}
