//! `/api/uploads`: resumable uploads with the tus 1.0 protocol (core, creation, expiration,
//! termination), so that standard tus clients resume after a dropped connection. When the
//! last byte arrives the upload goes through the same probing and processing as a plain one,
//! and the response names the new video in `Roomcast-Video-Id`.

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::TryStreamExt;

use crate::auth::{AuthUser, CurrentUser};
use crate::context::AppState;
use crate::domain::{VideoDescription, VideoTitle};
use crate::error::ApiError;
use crate::limits::progress::slow_body;
use crate::videos::incoming::IncomingFile;
use crate::videos::intake::{self, Arrived};
use crate::videos::resumable::{parse_metadata, UploadInfo, UploadState};

const TUS_VERSION: &str = "1.0.0";
const TUS_EXTENSIONS: &str = "creation,expiration,termination,checksum";
/// The checksum extension's algorithms.
const TUS_CHECKSUMS: &str = "sha1";
const OFFSET_CONTENT_TYPE: &str = "application/offset+octet-stream";

fn tus(status: StatusCode) -> HttpResponseBuilder {
    let mut res = HttpResponse::build(status);
    res.insert_header(("Tus-Resumable", TUS_VERSION))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    res
}

fn check_version(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get("Tus-Resumable").and_then(|v| v.to_str().ok()) {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(ApiError::TusVersion),
    }
}

fn number(headers: &HeaderMap, name: &str) -> Result<u64, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ApiError::BadBody(format!("{name} must be a non-negative integer")))
}

fn expires(state: &UploadState) -> String {
    header::HttpDate::from(state.expires).to_string()
}

/// `OPTIONS /api/uploads`: what this server supports.
pub async fn options(state: web::Data<AppState>) -> HttpResponse {
    tus(StatusCode::NO_CONTENT)
        .insert_header(("Tus-Version", TUS_VERSION))
        .insert_header(("Tus-Extension", TUS_EXTENSIONS))
        .insert_header(("Tus-Checksum-Algorithm", TUS_CHECKSUMS))
        .insert_header(("Tus-Max-Size", state.settings.upload.max_bytes.to_string()))
        .finish()
}

/// `POST /api/uploads` with `Upload-Length` and `Upload-Metadata` (`title`, optional
/// `description`) -> 201 with `Location`.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let headers = req.headers();
    check_version(headers)?;
    intake::tools_ready(&state)?;
    if headers.contains_key("Upload-Defer-Length") {
        return Err(ApiError::BadBody(
            "Upload-Defer-Length is not supported".into(),
        ));
    }
    let length = number(headers, "Upload-Length")?;
    let max = state.settings.upload.max_bytes;
    if length > max {
        return Err(ApiError::TooLarge(format!(
            "a video may be at most {max} bytes"
        )));
    }
    if length == 0 {
        return Err(ApiError::Invalid("an upload cannot be empty".into()));
    }
    let metadata = headers
        .get("Upload-Metadata")
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::BadBody("Upload-Metadata is not ASCII".into()))
        })
        .transpose()?
        .map(parse_metadata)
        .transpose()
        .map_err(ApiError::BadBody)?
        .unwrap_or_default();
    let field = |key: &str| {
        metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let title = field("title")
        .or(field("filename"))
        .ok_or_else(|| ApiError::Invalid("Upload-Metadata needs a title".into()))?;
    let title = VideoTitle::parse(title).map_err(ApiError::Invalid)?;
    let description =
        VideoDescription::parse(field("description").unwrap_or("")).map_err(ApiError::Invalid)?;
    let quota = state.resumable.quota.lock().await;
    crate::videos::quota::check(&state, &user.user_id, length).await?;
    let id = state
        .resumable
        .create(UploadInfo {
            owner_id: user.user_id,
            length,
            title: title.as_str().to_string(),
            description: description.as_str().to_string(),
        })
        .await
        .map_err(ApiError::from_io("creating an upload"))?;
    drop(quota);
    let found = find_own(&state, &id, None).await?;
    Ok(tus(StatusCode::CREATED)
        .insert_header((header::LOCATION, format!("/api/uploads/{id}")))
        .insert_header(("Upload-Expires", expires(&found)))
        .finish())
}

/// The upload, if it exists and `user` (when given) created it.
async fn find_own(
    state: &AppState,
    id: &str,
    user: Option<&AuthUser>,
) -> Result<UploadState, ApiError> {
    let found = state
        .resumable
        .find(id)
        .await
        .map_err(ApiError::from_io("reading an upload"))?
        .filter(|s| user.is_none_or(|u| u.user_id == s.info.owner_id));
    found.ok_or_else(|| ApiError::NotFound("no such upload (it may have expired)".into()))
}

/// `HEAD /api/uploads/{id}`: how many bytes the server has.
pub async fn head(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_version(req.headers())?;
    let found = find_own(&state, &id, Some(&user)).await?;
    Ok(tus(StatusCode::OK)
        .insert_header(("Upload-Offset", found.offset.to_string()))
        .insert_header(("Upload-Length", found.info.length.to_string()))
        .insert_header(("Upload-Expires", expires(&found)))
        .finish())
}

/// `PATCH /api/uploads/{id}` with `Upload-Offset`: appends the body. The last byte
/// completes the upload: it is probed, and a video is created or 422 returned.
pub async fn patch(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut payload = slow_body(&req, payload, state.write_timeout()).await;
    let headers = req.headers();
    check_version(headers)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some(OFFSET_CONTENT_TYPE) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the bytes as Content-Type: {OFFSET_CONTENT_TYPE}"
        )));
    }
    let offset = number(headers, "Upload-Offset")?;
    let mut checksum = expected_checksum(headers)?;
    let _lock = state.resumable.lock(&id).ok_or(ApiError::UploadLocked)?;
    let found = find_own(&state, &id, Some(&user)).await?;
    if offset != found.offset {
        return Err(ApiError::OffsetMismatch(format!(
            "Upload-Offset is {offset} but the server has {} bytes; ask with HEAD and resume from there",
            found.offset
        )));
    }
    let internal = ApiError::from_io("writing an upload");
    let mut file = IncomingFile::append(state.resumable.data_path(&id))
        .await
        .map_err(internal)?;
    let length = found.info.length;
    // Every chunk is on disk before the next is read: a dropped connection loses nothing
    // that the next HEAD reports.
    while let Some(chunk) = payload
        .try_next()
        .await
        .map_err(|e| ApiError::BadBody(format!("the upload was interrupted: {e}")))?
    {
        if file.len() + chunk.len() as u64 > length {
            return Err(ApiError::Invalid(format!(
                "the body goes past the declared Upload-Length of {length} bytes"
            )));
        }
        if let Some((hasher, _)) = checksum.as_mut() {
            sha1::Digest::update(hasher, &chunk);
        }
        file.write(chunk).await.map_err(internal)?;
    }
    if let Some((hasher, expected)) = checksum {
        if sha1::Digest::finalize(hasher).as_slice() != expected.as_slice() {
            // The chunk is dropped whole: the upload stays where this PATCH found it.
            file.cut_back(offset).await.map_err(internal)?;
            return Err(ApiError::ChecksumMismatch);
        }
    }
    let received = file.len();
    drop(file);
    let mut res = tus(StatusCode::NO_CONTENT);
    res.insert_header(("Upload-Offset", received.to_string()));
    if received < length {
        return Ok(res
            .insert_header(("Upload-Expires", expires(&found)))
            .finish());
    }
    let video = complete(&state, &id, found).await?;
    Ok(res
        .insert_header((
            "Roomcast-Video-Id",
            HeaderValue::from_str(&video).expect("uuid"),
        ))
        .insert_header((header::LOCATION, format!("/api/uploads/{id}")))
        .finish())
}

/// `Upload-Checksum: sha1 <base64 digest>` (tus checksum extension): a hasher for the
/// body and the digest it must end with. Another algorithm is 400.
fn expected_checksum(headers: &HeaderMap) -> Result<Option<(sha1::Sha1, Vec<u8>)>, ApiError> {
    use base64::Engine;
    let Some(value) = headers.get("Upload-Checksum") else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::BadBody("Upload-Checksum is not ASCII".into()))?;
    let (algorithm, digest) = value.trim().split_once(' ').unwrap_or((value, ""));
    if algorithm != "sha1" {
        return Err(ApiError::BadBody(format!(
            "Upload-Checksum: only {TUS_CHECKSUMS} is supported"
        )));
    }
    let digest = base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .ok()
        .filter(|d| d.len() == 20)
        .ok_or_else(|| {
            ApiError::BadBody("Upload-Checksum: the sha1 digest must be 20 bytes in base64".into())
        })?;
    Ok(Some((<sha1::Sha1 as sha1::Digest>::new(), digest)))
}

/// Hands a complete upload to probing and processing; returns the new video's id.
async fn complete(state: &AppState, id: &str, found: UploadState) -> Result<String, ApiError> {
    // Kept whole while the tools are missing: a PATCH of no bytes at the full offset
    // completes it once they are back.
    intake::tools_ready(state)?;
    let target = state.storage.new_incoming();
    state
        .resumable
        .take(id, target.clone())
        .await
        .map_err(ApiError::from_io("taking an upload"))?;
    let title = VideoTitle::parse(&found.info.title).map_err(ApiError::Invalid)?;
    let description =
        VideoDescription::parse(&found.info.description).map_err(ApiError::Invalid)?;
    let video = intake::accept(
        state,
        Arrived {
            path: target,
            size: found.offset.max(found.info.length),
            owner_id: found.info.owner_id,
            title,
            description,
        },
    )
    .await?;
    Ok(video.id)
}

/// `DELETE /api/uploads/{id}`: the client gives up; the bytes are removed.
pub async fn terminate(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_version(req.headers())?;
    let _lock = state.resumable.lock(&id).ok_or(ApiError::UploadLocked)?;
    find_own(&state, &id, Some(&user)).await?;
    state
        .resumable
        .remove(&id)
        .await
        .map_err(ApiError::from_io("removing an upload"))?;
    Ok(tus(StatusCode::NO_CONTENT).finish())
}
