//! `POST /api/videos` bodies: multipart `title`, `description` and `file`, with the file
//! streamed to `tmp/` chunk by chunk and stopped at `upload.max_bytes`.

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::http::header::{self, HeaderMap};
use actix_web::web;
use futures_util::{StreamExt, TryStreamExt};

use super::incoming::IncomingFile;
use crate::error::ApiError;
use crate::media::Storage;

/// Largest text field (title, description) we read into memory.
const TEXT_FIELD_LIMIT: usize = 64 * 1024;
/// Most fields a form may have.
const MAX_FIELDS: usize = 16;
/// After the limit is passed, this much more is read (and thrown away) so that the client
/// is still listening when the 413 arrives; beyond it the connection is simply closed.
const DRAIN_LIMIT: u64 = 64 << 20;
/// Room for multipart boundaries and the text fields on top of the file itself.
pub const FORM_OVERHEAD: u64 = 1 << 20;

/// The parsed form, with the file on disk.
pub struct UploadForm {
    pub title: String,
    pub description: String,
    pub file: IncomingFile,
}

/// Reads the multipart body; the file never sits in memory.
pub async fn receive(
    headers: &HeaderMap,
    payload: web::Payload,
    storage: &Storage,
    max_bytes: u64,
) -> Result<UploadForm, ApiError> {
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(ApiError::UnsupportedMediaType(
            "send the video as multipart/form-data with title, description and file".into(),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes.saturating_add(FORM_OVERHEAD)) {
        return Err(too_large(max_bytes));
    }
    let mut form = Multipart::new(headers, payload);
    let mut title = None;
    let mut description = String::new();
    let mut file = None;
    let mut fields = 0;
    while let Some(field) = form.try_next().await.map_err(bad_form)? {
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(ApiError::BadBody(format!(
                "a form has at most {MAX_FIELDS} fields"
            )));
        }
        match field.name().unwrap_or_default() {
            "title" => title = Some(read_text(field).await?),
            "description" => description = read_text(field).await?,
            "file" if file.is_none() => match save_file(field, storage, max_bytes).await? {
                Saved::Complete(f) => file = Some(f),
                Saved::TooLarge => {
                    drain(form).await;
                    return Err(too_large(max_bytes));
                }
                // A full disk: the client still gets the answer (not a reset connection).
                Saved::NotWritten(e) => {
                    drain(form).await;
                    return Err(e);
                }
            },
            _ => drop(read_text(field).await?),
        }
    }
    let file = file
        .filter(|f| !f.is_empty())
        .ok_or_else(|| ApiError::Invalid("the form needs a non-empty file field".into()))?;
    let title = title.ok_or_else(|| ApiError::Invalid("the form needs a title field".into()))?;
    Ok(UploadForm {
        title,
        description,
        file,
    })
}

enum Saved {
    Complete(IncomingFile),
    TooLarge,
    /// Writing failed (a full disk, say); what was written is removed.
    NotWritten(ApiError),
}

async fn save_file(mut field: Field, storage: &Storage, max_bytes: u64) -> Result<Saved, ApiError> {
    let mut file = IncomingFile::create(storage.new_incoming())
        .await
        .map_err(ApiError::from_io("creating an upload file"))?;
    while let Some(chunk) = field.try_next().await.map_err(bad_form)? {
        if file.len() + chunk.len() as u64 > max_bytes {
            // Dropping the file removes what was written.
            return Ok(Saved::TooLarge);
        }
        if let Err(e) = file.write(chunk).await {
            return Ok(Saved::NotWritten(ApiError::from_io("writing an upload")(e)));
        }
    }
    Ok(Saved::Complete(file))
}

async fn read_text(mut field: Field) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_string();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.try_next().await.map_err(bad_form)? {
        if bytes.len() + chunk.len() > TEXT_FIELD_LIMIT {
            return Err(ApiError::TooLarge(format!(
                "the field {name:?} is larger than {TEXT_FIELD_LIMIT} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::BadBody(format!("the field {name:?} is not UTF-8")))
}

/// Reads and discards what is left of the body, up to `DRAIN_LIMIT`.
async fn drain(form: Multipart) {
    let mut seen = 0u64;
    let mut fields = form;
    while let Some(Ok(mut field)) = fields.next().await {
        while let Some(Ok(chunk)) = field.next().await {
            seen += chunk.len() as u64;
            if seen > DRAIN_LIMIT {
                return;
            }
        }
    }
}

fn too_large(max_bytes: u64) -> ApiError {
    ApiError::TooLarge(format!("a video may be at most {max_bytes} bytes"))
}

fn bad_form(e: MultipartError) -> ApiError {
    ApiError::BadBody(format!("the multipart body is not valid: {e}"))
}
