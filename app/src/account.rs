//! Who is logged in, as the browser knows it. Pages are rendered without it (they
//! stay cacheable); after hydration the client asks `GET /api/auth/session` once and
//! after each login or logout.

use leptos::prelude::*;

use crate::api::Account;
use crate::client;

/// `None` while unknown (server render, first moments), then `Some(None)` for a
/// visitor or `Some(Some(account))`.
#[derive(Clone, Copy)]
pub struct AccountState(pub RwSignal<Option<Option<Account>>>);

impl AccountState {
    /// Asks the server again (after a login or logout).
    pub fn refresh(self) {
        client::spawn(async move {
            let known = match crate::endpoints::session().await {
                Ok(reply) => reply.body.ok().map(|session| session.account),
                Err(_) => None,
            };
            let _ = self.0.try_set(known);
        });
    }

    /// The logged-in account, if known.
    pub fn account(self) -> Option<Account> {
        self.0.get().flatten()
    }

    /// Known to be a visitor without a session.
    pub fn is_visitor(self) -> bool {
        matches!(self.0.get(), Some(None))
    }
}

/// Provides the account state for the whole app and loads it once hydrated.
pub fn provide_account() -> AccountState {
    let state = AccountState(RwSignal::new(None));
    provide_context(state);
    Effect::new(move |_| state.refresh());
    state
}

/// The account state provided by the app.
pub fn use_account() -> AccountState {
    use_context::<AccountState>().unwrap_or(AccountState(RwSignal::new(None)))
}
