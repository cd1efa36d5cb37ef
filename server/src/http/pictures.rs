//! Product pictures: an admin uploads one (`POST /api/admin/pictures`, the raw
//! bytes as the body) and gets the path to give a sale as its `image_url`;
//! everyone loads it from `GET /pictures/{sha256}.{ext}`, with an `ETag` and a
//! year of caching, since the name changes whenever the bytes do.

use app::api::PictureUploaded;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::refusals;
use super::error::ApiError;
use super::extract::AdminUser;
use super::state::AppState;
use crate::sales::pictures::{PictureType, Pictures, MAX_BYTES};

/// A picture's bytes as the document describes them: a binary string, so a
/// generated client sends and receives a file, not a list of numbers.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct PictureBytes(Vec<u8>);

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(serve))
}

/// `POST /api/admin/pictures`: 201 `{url}`; 413 above 2 MiB, 422 for anything
/// but PNG, JPEG, WebP or GIF bytes, 400 for a body that broke off.
#[utoipa::path(
    post,
    path = "/api/admin/pictures",
    operation_id = "admin_upload_picture",
    tag = "admin",
    request_body(
        content((PictureBytes = "image/png"), (PictureBytes = "image/jpeg"), (PictureBytes = "image/webp"), (PictureBytes = "image/gif")),
        description = "the picture's bytes, at most 2 MiB; the server recognises the format by the bytes, not the content type"
    ),
    security(("session" = [])),
    responses(
        (status = 201, description = "stored; give the url to a sale", body = app::api::PictureUploaded),
        refusals::Malformed,
        refusals::NoSession,
        refusals::Forbidden,
        refusals::TooLarge,
        refusals::Invalid,
        refusals::Unavailable,
    )
)]
async fn upload(
    State(pictures): State<Pictures>,
    AdminUser(_admin): AdminUser,
    body: Body,
) -> Result<(StatusCode, Json<PictureUploaded>), ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BYTES)
        .await
        .map_err(|error| {
            if error.into_inner().is::<http_body_util::LengthLimitError>() {
                ApiError::TooLarge(format!(
                    "a picture may be at most {} MiB",
                    MAX_BYTES / (1024 * 1024)
                ))
            } else {
                ApiError::bad_request("the picture's bytes broke off")
            }
        })?;
    let kind = PictureType::sniff(&bytes)
        .ok_or_else(|| ApiError::invalid("the body must be a PNG, JPEG, WebP or GIF picture"))?;
    let url = pictures.store(kind, &bytes).await?;
    Ok((StatusCode::CREATED, Json(PictureUploaded { url })))
}

/// `GET /pictures/{sha256}.{ext}`: the bytes, or 304 when the browser has them.
/// The name is read from the path as sent: anything but a known hash is 404.
#[utoipa::path(
    get,
    path = "/pictures/{name}",
    operation_id = "product_picture",
    tag = "sales",
    params(("name" = String, Path, description = "`{sha256}.{ext}` as the upload answered")),
    responses(
        (status = 200, description = "the picture (immutable, with an ETag)", content_type = "image/*", body = PictureBytes),
        (status = 304, description = "the browser's copy is current"),
        refusals::NotFound,
        refusals::Unavailable,
    )
)]
async fn serve(
    State(pictures): State<Pictures>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = uri.path().strip_prefix("/pictures/").unwrap_or_default();
    let sha256 = name.split_once('.').map_or(name, |(stem, _)| stem);
    let well_formed = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let picture = match well_formed {
        true => pictures.get(sha256).await?,
        false => None,
    }
    .ok_or_else(|| ApiError::not_found("picture"))?;
    let etag = format!("\"{}\"", picture.sha256);
    let cached = HeaderValue::from_static("public, max-age=31536000, immutable");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let etag = HeaderValue::from_str(&etag).expect("hex digits in quotes are a valid header");
    if fresh {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cached)],
        )
            .into_response());
    }
    let content_type = HeaderValue::from_str(&picture.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cached),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        Bytes::clone(&picture.bytes),
    )
        .into_response())
}
