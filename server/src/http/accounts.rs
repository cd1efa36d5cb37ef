//! `POST /api/auth/register`, `/login`, `/logout`, `GET /api/auth/me` and
//! `GET /api/auth/session`.

use app::api::{Account, Credentials, ErrorCode, SessionInfo};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::refusals;
use super::error::ApiError;
use super::extract::{ApiJson, CurrentUser};
use super::state::{AppState, CookiePolicy};
use crate::accounts::credentials::{hash_password, verify_password, Password, Username};
use crate::accounts::sessions::{self, Session, SessionStore};
use crate::accounts::users::{Accounts, RegisterError, User};
use crate::secret::Secret;

/// `/api/auth/…`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(session))
}

fn account(user: &User) -> Account {
    Account {
        user_id: user.id,
        username: user.username.clone(),
        is_admin: user.is_admin,
    }
}

fn session_of(user: &User) -> Session {
    Session {
        user_id: user.id,
        username: user.username.clone(),
        is_admin: user.is_admin,
        account_created_ms: user.created_at.timestamp_millis(),
    }
}

async fn start_session(
    sessions: &SessionStore,
    user: &User,
    cookies: CookiePolicy,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let token = sessions.create(&session_of(user)).await?;
    Ok((
        status,
        [(
            header::SET_COOKIE,
            sessions::set_cookie(&token, cookies.secure),
        )],
        Json(account(user)),
    )
        .into_response())
}

/// Creates a shopper account and logs it in.
#[tracing::instrument(skip_all, fields(username = %credentials.username))]
#[utoipa::path(
    post,
    path = "/api/auth/register",
    operation_id = "register",
    tag = "accounts",
    request_body = app::api::Credentials,
    responses(
        (status = 201, description = "registered and logged in (session cookie set)", body = app::api::Account),
        refusals::Malformed,
        refusals::Forbidden,
        refusals::Conflict,
        refusals::Invalid,
        refusals::Unavailable,
    )
)]
async fn register(
    State(accounts): State<Accounts>,
    State(sessions): State<SessionStore>,
    State(cookies): State<CookiePolicy>,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let username = Username::parse(&credentials.username).map_err(ApiError::invalid)?;
    let password = Password::parse(&credentials.password).map_err(ApiError::invalid)?;
    let hash = hash_password(password).await?;
    let user = match accounts.create(&username, &hash, false).await {
        Ok(user) => user,
        Err(RegisterError::Taken) => return Err(ErrorCode::UsernameTaken.into()),
        Err(RegisterError::Store(error)) => return Err(error.into()),
    };
    start_session(&sessions, &user, cookies, StatusCode::CREATED).await
}

/// A hash of a password nobody has, checked when the username is unknown so that
/// "no such user" takes as long as "wrong password".
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$7xbZ2zVbc8ETCBvbPa2Xv2XWhiD4HtfK/Ri1iJXBb7w";

/// Logs in with a username and password.
#[tracing::instrument(skip_all, fields(username = %credentials.username))]
#[utoipa::path(
    post,
    path = "/api/auth/login",
    operation_id = "log_in",
    tag = "accounts",
    request_body = app::api::Credentials,
    responses(
        (status = 200, description = "logged in (session cookie set)", body = app::api::Account),
        refusals::Malformed,
        refusals::NoSession,
        refusals::Forbidden,
        refusals::Invalid,
        refusals::RateLimited,
        refusals::Unavailable,
    )
)]
async fn login(
    State(accounts): State<Accounts>,
    State(sessions): State<SessionStore>,
    State(cookies): State<CookiePolicy>,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let user = accounts.find(credentials.username.trim()).await?;
    let hash = user
        .as_ref()
        .map_or(DECOY_HASH.to_owned(), |user| user.password_hash.clone());
    let valid = verify_password(hash, Secret::new(credentials.password)).await;
    match user {
        Some(user) if valid => start_session(&sessions, &user, cookies, StatusCode::OK).await,
        _ => Err(ErrorCode::BadCredentials.into()),
    }
}

/// Revokes the session everywhere and clears the cookie.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    operation_id = "log_out",
    tag = "accounts",
    // The cookie is optional: without one there is nothing to revoke, still 204.
    security((), ("session" = [])),
    responses(
        (status = 204, description = "the session is revoked"),
        refusals::Forbidden,
        refusals::Unavailable,
    )
)]
async fn logout(
    State(sessions): State<SessionStore>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = sessions::token_from(&headers) {
        sessions.revoke(&token).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, sessions::clear_cookie())],
    )
        .into_response())
}

/// Who is logged in.
#[utoipa::path(
    get,
    path = "/api/auth/me",
    operation_id = "who_am_i",
    tag = "accounts",
    security(("session" = [])),
    responses(
        (status = 200, description = "the logged-in account", body = app::api::Account),
        refusals::NoSession,
        refusals::Unavailable,
    )
)]
async fn me(CurrentUser(session): CurrentUser) -> Json<Account> {
    Json(account_of(session))
}

/// The account a session is for, as the API shows it.
fn account_of(session: Session) -> Account {
    Account {
        user_id: session.user_id,
        username: session.username,
        is_admin: session.is_admin,
    }
}

/// Who is logged in, if anyone: the page's question after it loads, which a
/// visitor answers too (200 with `account: null`), so nothing reads as an error.
#[utoipa::path(
    get,
    path = "/api/auth/session",
    operation_id = "current_session",
    tag = "accounts",
    security((), ("session" = [])),
    responses(
        (status = 200, description = "the logged-in account, or `null` for a visitor", body = SessionInfo),
        refusals::Unavailable,
    )
)]
async fn session(
    State(sessions): State<SessionStore>,
    headers: HeaderMap,
) -> Result<Json<SessionInfo>, ApiError> {
    let found = match sessions::token_from(&headers) {
        Some(token) => sessions.find(&token).await?,
        None => None,
    };
    Ok(Json(SessionInfo {
        account: found.map(account_of),
    }))
}
