//! `/admin/dead-letters`: order messages that failed too often, with their last
//! error, and a retry that goes through the same idempotent insert.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::account::{load_when_allowed, Audience};
use crate::api::DeadLetter;
use crate::client::{self, Remote};
use crate::endpoints::{self, LetterAction};

/// The dead-letter list.
#[component]
pub fn DeadLetters() -> impl IntoView {
    let letters = RwSignal::new(Remote::<Vec<DeadLetter>>::Loading);
    let message = RwSignal::new(None::<String>);
    let reload = move || {
        client::spawn(async move {
            let loaded = Remote::from_reply(endpoints::dead_letters().await);
            let _ = letters.try_set(loaded);
        });
    };
    load_when_allowed(
        Audience::Admins,
        move |refusal| letters.set(refusal.into()),
        reload,
    );
    // Retry (`retry`: saved) or release (`release`: units back on sale) a letter.
    let act = move |id: String, action: LetterAction, done: &'static str| {
        client::spawn(async move {
            match endpoints::act_on_letter(&id, action).await {
                Ok(reply) => match reply.body {
                    Ok(_) => message.set(Some(format!("{id}: {done}"))),
                    Err(error) => message.set(Some(format!("{id}: {}", error.message))),
                },
                Err(_) => message.set(Some("The connection failed. Try again.".into())),
            }
            reload();
        });
    };
    view! {
        <Title text="Dead letters · Admin"/>
        <p><a href="/admin">"← All sales"</a></p>
        <h1>"Dead letters"</h1>
        <p class="status-message" role="status">{move || message.get()}</p>
        {move || {
            let current = letters.get();
            if let Some(waiting) = super::not_ready(&current, "/admin/dead-letters") {
                return waiting;
            }
            let Remote::Ready(list) = current else { return ().into_any() };
            if list.is_empty() {
                return view! { <p class="empty">"No dead letters: every order message was saved."</p> }.into_any();
            }
            view! {
                <ul class="dead-letters">
                    {list.into_iter().map(|letter| {
                        let id = letter.id.clone();
                        let payload = serde_json::to_string_pretty(&letter.payload).unwrap_or_default();
                        view! {
                            <li class="dead-letter">
                                <p>
                                    <strong>{format!("Sale #{} · message {}", letter.sale_id, letter.message_id)}</strong>
                                    {format!(" · {} deliveries", letter.deliveries)}
                                </p>
                                <p class="error">{letter.last_error.clone()}</p>
                                <pre>{payload}</pre>
                                <button on:click={
                                    let id = id.clone();
                                    move |_| act(id.clone(), LetterAction::Retry, "saved.")
                                }>"Retry"</button>
                                " "
                                <button class="danger" title="Give up this reservation: its units go back on sale"
                                    on:click=move |_| act(id.clone(), LetterAction::Release, "released; its units are back on sale.")>
                                    "Release"
                                </button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }
            .into_any()
        }}
    }
}
