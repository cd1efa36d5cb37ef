//! `POST /api/auth/register`, `/login`, `/logout`, `GET /api/auth/me` and
//! `GET /api/auth/session`.

use app::api::{Account, Credentials, ErrorCode, RegistrationChallenge, SessionInfo};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::refusals;
use super::error::ApiError;
use super::extract::{ApiJson, ClientIp, CurrentUser};
use super::state::{AppState, CookiePolicy};
use crate::accounts::credentials::{HashError, Hasher, Password, Username, MAX_PASSWORD_CHARS};
use crate::accounts::sessions::{self, Session, SessionStore};
use crate::accounts::users::{Accounts, RegisterError, User};
use crate::guards::sign_in::{SignInGuard, Verdict};
use crate::secret::Secret;

/// `/api/auth/…`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(registration_challenge))
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
        refusals::RateLimited,
        refusals::Unavailable,
    )
)]
async fn register(
    State(accounts): State<Accounts>,
    State(sessions): State<SessionStore>,
    State(cookies): State<CookiePolicy>,
    State(guard): State<SignInGuard>,
    State(hasher): State<Hasher>,
    ClientIp(ip): ClientIp,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let username = Username::parse(&credentials.username).map_err(ApiError::invalid)?;
    let password = Password::parse(&credentials.password).map_err(ApiError::invalid)?;
    check_work_fields(&credentials)?;
    go_ahead(guard.may_register(ip).await?)?;
    // While registration is busy, each account costs its maker work, checked
    // before anything is hashed.
    let work = guard.work();
    let required = work.required_bits().await?;
    if required > 0 {
        let solved = match (&credentials.challenge, &credentials.nonce) {
            (Some(challenge), Some(nonce)) => work.accept(challenge, nonce, required).await?,
            _ => false,
        };
        if !solved {
            return Err(ApiError::refused(
                ErrorCode::CaptchaFailed,
                format!(
                    "registration is busy: solve a proof of work of {required} bits from \
                     POST /api/auth/register/challenge and send its challenge and nonce"
                ),
            ));
        }
    }
    let hash = hasher.hash(password).await.map_err(hashing)?;
    let user = match accounts.create(&username, &hash, false).await {
        Ok(user) => user,
        Err(RegisterError::Taken) => return Err(ErrorCode::UsernameTaken.into()),
        Err(RegisterError::Store(error)) => return Err(error.into()),
    };
    work.counted().await?;
    start_session(&sessions, &user, cookies, StatusCode::CREATED).await
}

/// The proof of work a registration needs now: none while registration is
/// quiet, more the more accounts are being made. Anyone may ask; a challenge
/// is signed, not stored, so asking costs the server no storage.
#[utoipa::path(
    post,
    path = "/api/auth/register/challenge",
    operation_id = "registration_challenge",
    tag = "accounts",
    responses(
        (status = 200, description = "the work to do (`difficulty_bits` 0: none)", body = app::api::RegistrationChallenge),
        refusals::Unavailable,
    )
)]
async fn registration_challenge(
    State(guard): State<SignInGuard>,
) -> Result<Json<RegistrationChallenge>, ApiError> {
    let work = guard.work();
    let bits = work.required_bits().await?;
    Ok(Json(work.challenge(bits)?))
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
    State(guard): State<SignInGuard>,
    State(hasher): State<Hasher>,
    ClientIp(ip): ClientIp,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    if credentials.password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(ApiError::invalid(format!(
            "a password has at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    check_work_fields(&credentials)?;
    // A name no account can have is refused without hashing or counting.
    let Ok(username) = Username::parse(&credentials.username) else {
        return Err(ErrorCode::BadCredentials.into());
    };
    go_ahead(guard.may_log_in(username.as_str(), ip).await?)?;
    let user = accounts.find(username.as_str()).await?;
    let hash = user
        .as_ref()
        .map_or(DECOY_HASH.to_owned(), |user| user.password_hash.clone());
    let valid = hasher
        .verify(hash, Secret::new(credentials.password))
        .await
        .map_err(hashing)?;
    match user {
        Some(user) if valid => {
            guard.succeeded(username.as_str()).await?;
            start_session(&sessions, &user, cookies, StatusCode::OK).await
        }
        _ => {
            guard.failed(ip).await?;
            Err(ErrorCode::BadCredentials.into())
        }
    }
}

/// The registration work's fields, when sent, within their documented sizes
/// (log-in ignores them, but takes the same body).
fn check_work_fields(credentials: &Credentials) -> Result<(), ApiError> {
    let longer = |field: &Option<String>, most: usize| {
        field
            .as_ref()
            .is_some_and(|value| value.chars().count() > most)
    };
    if longer(&credentials.challenge, 200) || longer(&credentials.nonce, 20) {
        return Err(ApiError::invalid(
            "`challenge` has at most 200 characters and `nonce` at most 20",
        ));
    }
    Ok(())
}

/// A sign-in guard's refusal: 429 `rate_limited` with its wait.
fn go_ahead(verdict: Verdict) -> Result<(), ApiError> {
    match verdict {
        Verdict::Go => Ok(()),
        Verdict::Wait(secs) => Err(ApiError::retry_later(ErrorCode::RateLimited, secs)),
    }
}

/// Every hashing slot taken: 503 `busy`, come back in a second.
fn hashing(error: HashError) -> ApiError {
    match error {
        HashError::Busy => ApiError::retry_later(ErrorCode::Busy, 1),
        HashError::Store(error) => error.into(),
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
