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
    /// Asks the server again (after a login or logout). While the answer
    /// cannot be read (no network, a 5xx), it stays unknown and is asked
    /// again, 2 s later and then less often (up to every 30 s).
    pub fn refresh(self) {
        client::spawn(async move {
            let mut wait_ms = 2_000;
            loop {
                let known = match crate::endpoints::session().await {
                    Ok(reply) => reply.body.ok().map(|session| session.account),
                    Err(_) => None,
                };
                if known.is_some() {
                    let _ = self.0.try_set(known);
                    return;
                }
                client::sleep_ms(wait_ms).await;
                wait_ms = (wait_ms * 2).min(30_000);
            }
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

/// Who a private page is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Any logged-in account (`/orders`).
    Accounts,
    /// Admins only (`/admin/...`).
    Admins,
}

/// Why a private page is not loaded for whoever is looking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A visitor: the page asks them to log in.
    LogIn,
    /// A logged-in shopper on an admin page.
    AdminsOnly,
}

/// Starts a private page's loading (`load`, once) when the account is known to
/// be one the API will answer. A visitor, or a shopper on an admin page, gets
/// `refuse` instead and no request is sent: the API would refuse it with a 401
/// or 403, which the browser logs as an error on every visit.
pub fn load_when_allowed(
    audience: Audience,
    refuse: impl Fn(Refusal) + 'static,
    load: impl Fn() + 'static,
) {
    let account = use_account();
    Effect::new(move |started: Option<bool>| {
        if started == Some(true) {
            return true;
        }
        match account.0.get() {
            None => false,
            Some(None) => {
                refuse(Refusal::LogIn);
                false
            }
            Some(Some(found)) if audience == Audience::Admins && !found.is_admin => {
                refuse(Refusal::AdminsOnly);
                false
            }
            Some(Some(_)) => {
                load();
                true
            }
        }
    });
}
