//! Serving a file over HTTP the way browsers and download managers expect: one byte range
//! (206, suffix and open-ended ranges, 416), a strong ETag, Last-Modified, conditional
//! requests (304, 412, `If-Range`, see `conditional`), HEAD, and a body read off the worker
//! threads in large chunks.
//!
//! `OpenFiles` remembers, for a moment, each file's validators, a read-only mapping of it,
//! and a copy of its first 64 KiB. The head of a video is what every player asks for first
//! and small files (thumbnails) fit whole, so those requests are answered from memory
//! without leaving the worker. Larger ranges are sent from the mapping: each chunk's pages
//! are faulted in on the blocking pool (where waiting for the disk is allowed) and the
//! chunk then goes to the socket without being copied into a buffer of ours.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::stream;

use super::conditional::{decide, Decision, Validators};
use super::limiter::StreamPermit;
use crate::conn::ConnSocket;
use crate::limits::progress::ResponseWatch;

/// Bytes faulted in per hop to the blocking pool and handed to the socket at a time.
const CHUNK: usize = 512 * 1024;
/// The part of each file kept in memory.
const HEAD: usize = 64 * 1024;
/// How long a file's validators and head are trusted before the file is looked at again.
/// Stored files are immutable (renamed into place), so this only bounds how long a removed
/// file's head could still be served to a request that got past the database check.
const FRESH: Duration = Duration::from_secs(2);
/// Files remembered at most (at most `HEAD` bytes each).
const MAX_FILES: usize = 1024;

/// How a served file may be cached.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy(pub &'static str);

/// A file's validators, mapping and first bytes.
pub struct OpenFile {
    validators: Validators,
    /// The whole file, mapped; its pages may not be in memory.
    mapped: Bytes,
    /// A copy of the first `HEAD` bytes, always in memory.
    head: Bytes,
    checked: Instant,
}

/// Owns a mapping so that `Bytes` can hand out slices of it.
struct Mapping(memmap2::Mmap);

impl AsRef<[u8]> for Mapping {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Recently served files, shared by every worker.
#[derive(Default)]
pub struct OpenFiles {
    files: RwLock<HashMap<PathBuf, Arc<OpenFile>>>,
}

impl OpenFiles {
    /// The file's validators and head, from memory when fresh, else from disk (one hop to
    /// the blocking pool). `NotFound` when the file is gone.
    pub async fn get(&self, path: &Path) -> std::io::Result<Arc<OpenFile>> {
        let known = self
            .files
            .read()
            .expect("file cache poisoned")
            .get(path)
            .cloned();
        if let Some(file) = &known {
            if file.checked.elapsed() < FRESH {
                return Ok(Arc::clone(file));
            }
        }
        let owned = path.to_path_buf();
        let file = web::block(move || load(owned, known))
            .await
            .map_err(std::io::Error::other)??;
        let file = Arc::new(file);
        let mut files = self.files.write().expect("file cache poisoned");
        if files.len() >= MAX_FILES {
            files.retain(|_, f| f.checked.elapsed() < FRESH);
            if files.len() >= MAX_FILES {
                files.clear();
            }
        }
        files.insert(path.to_path_buf(), Arc::clone(&file));
        Ok(file)
    }

    /// Forgets a file (it is about to be removed).
    pub fn forget(&self, path: &Path) {
        self.files
            .write()
            .expect("file cache poisoned")
            .remove(path);
    }
}

/// Opens and maps a file, and copies its head (blocking). A `known` version that is still
/// the file on disk keeps its mapping, whose pages are already mapped in.
fn load(path: PathBuf, known: Option<Arc<OpenFile>>) -> std::io::Result<OpenFile> {
    let file = File::open(&path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::ErrorKind::NotFound.into());
    }
    let validators = Validators::from_metadata(&meta);
    if let Some(known) = known.filter(|k| k.validators == validators) {
        return Ok(OpenFile {
            validators,
            mapped: known.mapped.clone(),
            head: known.head.clone(),
            checked: Instant::now(),
        });
    }
    let mapped = if validators.len == 0 {
        Bytes::new()
    } else {
        // SAFETY: stored files are never written or truncated once renamed into place (new
        // versions get new names and removal only unlinks), so the mapped bytes cannot
        // change or disappear while the mapping lives.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Bytes::from_owner(Mapping(map))
    };
    let head = Bytes::copy_from_slice(&mapped[..mapped.len().min(HEAD)]);
    Ok(OpenFile {
        validators,
        mapped,
        head,
        checked: Instant::now(),
    })
}

/// Touches one byte per page so that the pages are in memory before a worker sends them.
fn fault_in(chunk: &[u8]) {
    const PAGE: usize = 4096;
    let touched = chunk.iter().step_by(PAGE).fold(0u8, |acc, b| acc ^ b);
    std::hint::black_box(touched);
}

/// Serves `path` (or `NotFound` if it is gone), holding `permit` until the body is finished
/// or has made no progress for `write_timeout` (then the connection is hung up).
pub async fn serve(
    req: &HttpRequest,
    files: &OpenFiles,
    path: &Path,
    mime: &str,
    cache: CachePolicy,
    permit: Option<StreamPermit>,
    write_timeout: Duration,
) -> Result<HttpResponse, std::io::Error> {
    let file = files.get(path).await?;
    let v = &file.validators;
    let decision = decide(req.method(), req.headers(), v);
    let mut res = HttpResponse::build(StatusCode::OK);
    res.insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, v.etag.clone()))
        .insert_header((header::LAST_MODIFIED, v.last_modified()))
        .insert_header((header::CACHE_CONTROL, cache.0));
    let (start, len) = match decision {
        Decision::NotModified => return Ok(res.status(StatusCode::NOT_MODIFIED).finish()),
        Decision::PreconditionFailed => {
            return Ok(res.status(StatusCode::PRECONDITION_FAILED).finish())
        }
        Decision::Unsatisfiable => {
            return Ok(res
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .insert_header((header::CONTENT_RANGE, format!("bytes */{}", v.len)))
                .finish())
        }
        Decision::Full => (0, v.len),
        Decision::Partial { start, end } => {
            res.status(StatusCode::PARTIAL_CONTENT).insert_header((
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{}", v.len),
            ));
            (start, end - start + 1)
        }
    };
    res.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    ));
    if req.method() == Method::HEAD {
        // The length is announced but nothing is read: the HTTP layer sends no body for HEAD.
        let nothing = stream::empty::<Result<Bytes, std::io::Error>>();
        return Ok(res.body(SizedStream::new(len, nothing)));
    }
    let end = start + len;
    if end <= file.head.len() as u64 {
        // In memory: no disk, no hop, no copy.
        return Ok(res.body(file.head.slice(start as usize..end as usize)));
    }
    let range = file.mapped.slice(start as usize..end as usize);
    let watched = ResponseWatch::new(body(range), permit, ConnSocket::of(req), write_timeout);
    Ok(res.body(SizedStream::new(len, watched)))
}

/// The range in chunks, each faulted in on the blocking pool before it is sent.
fn body(range: Bytes) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    Box::pin(stream::try_unfold(range, |mut rest| async move {
        if rest.is_empty() {
            return Ok(None);
        }
        let chunk = rest.split_to(rest.len().min(CHUNK));
        let chunk = web::block(move || {
            fault_in(&chunk);
            chunk
        })
        .await
        .map_err(std::io::Error::other)?;
        Ok(Some((chunk, rest)))
    }))
}
