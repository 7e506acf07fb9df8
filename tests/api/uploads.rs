//! Resumable uploads with the tus 1.0 protocol, including a connection dropped half-way.

use std::time::Duration;

use awc::http::Method;
use base64::Engine;
use tokio::io::AsyncWriteExt;

use crate::helpers::{spawn_app, Backend, TestApp};
use crate::media::{bytes, Fixture};

crate::on_both_backends!(
    an_upload_interrupted_half_way_resumes_into_an_identical_file,
    refused_patches_change_nothing_in_an_upload,
);

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The headers of a PATCH at `offset`.
fn patch_headers(offset: usize) -> Vec<(&'static str, String)> {
    vec![
        (TUS.0, TUS.1.to_string()),
        ("Upload-Offset", offset.to_string()),
        (
            "Content-Type",
            "application/offset+octet-stream".to_string(),
        ),
    ]
}

/// A tus request with the version header and a bearer token.
pub(crate) async fn tus(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .insert_header(("Authorization", format!("Bearer {token}")));
    for (k, v) in headers {
        req = req.insert_header((*k, v.clone()));
    }
    let mut res = req
        .send_body(body)
        .await
        .expect("the request reaches the server");
    let body = res.body().await.unwrap().to_vec();
    (res.status().as_u16(), res.headers().clone(), body)
}

fn header(map: &awc::http::header::HeaderMap, name: &str) -> String {
    map.get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub(crate) const TUS: (&str, &str) = ("Tus-Resumable", "1.0.0");

pub(crate) async fn create(app: &TestApp, token: &str, length: usize) -> String {
    let meta = format!(
        "title {},description {},filename {}",
        b64("Resumed card"),
        b64("sent in two parts"),
        b64("card.mp4")
    );
    let (status, headers, body) = tus(
        app,
        Method::POST,
        "/api/uploads",
        token,
        &[
            (TUS.0, TUS.1.into()),
            ("Upload-Length", length.to_string()),
            ("Upload-Metadata", meta),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "tus-resumable"), "1.0.0");
    assert!(!header(&headers, "upload-expires").is_empty());
    header(&headers, "location")
}

pub(crate) async fn offset(app: &TestApp, token: &str, url: &str) -> u64 {
    let (status, headers, _) = tus(
        app,
        Method::HEAD,
        url,
        token,
        &[(TUS.0, TUS.1.into())],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "cache-control"), "no-store");
    header(&headers, "upload-offset").parse().unwrap()
}

async fn an_upload_interrupted_half_way_resumes_into_an_identical_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_in_user("alice").await;
    let original = bytes(Fixture::Faststart);
    let half = original.len() / 2;
    let url = create(&app, &token, original.len()).await;
    assert!(url.starts_with("/api/uploads/"), "{url}");
    assert_eq!(offset(&app, &token, &url).await, 0);

    // The first PATCH announces every byte but the connection drops after half of them.
    let port = app.address.rsplit(':').next().unwrap();
    let mut socket = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let head = format!(
        "PATCH {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        original.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&original[..half]).await.unwrap();
    socket.flush().await.unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    drop(socket);

    // HEAD reports exactly what reached the server.
    let mut have = 0;
    for _ in 0..50 {
        have = offset(&app, &token, &url).await;
        if have == half as u64 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        have, half as u64,
        "the bytes sent before the drop were kept"
    );

    // Resume from the reported offset (423 only while the server still finishes the
    // dropped request).
    let (mut status, mut headers, mut body) = (0, Default::default(), Vec::new());
    for _ in 0..50 {
        (status, headers, body) = tus(
            &app,
            Method::PATCH,
            &url,
            &token,
            &patch_headers(half),
            original[half..].to_vec(),
        )
        .await;
        if status != 423 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        header(&headers, "upload-offset"),
        original.len().to_string()
    );
    let id = header(&headers, "roomcast-video-id");
    assert!(!id.is_empty());

    let video = app.wait_processed(&token, &id).await;
    assert_eq!(video["status"], "ready", "{video}");
    assert_eq!(video["title"], "Resumed card");
    assert_eq!(video["description"], "sent in two parts");
    let (status, _, served) = app
        .get_raw(Method::GET, &format!("/videos/{id}/stream"), &[])
        .await;
    assert_eq!(status, 200);
    assert!(
        served == original,
        "the served file is byte for byte the uploaded one"
    );
    app.assert_no_files_in("tmp/resumable").await;
    let (status, _, _) = tus(
        &app,
        Method::HEAD,
        &url,
        &token,
        &[(TUS.0, TUS.1.into())],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 404, "a finished upload is gone");
}

/// Tried: a wrong offset, a missing version, a wrong content type, another user, a path
/// out of the uploads folder. Each is refused and the upload keeps what it had.
async fn refused_patches_change_nothing_in_an_upload(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.signed_in_user("alice").await;
    let original = bytes(Fixture::Faststart);
    let half = original.len() / 2;
    let url = create(&app, &token, original.len()).await;
    let (status, _, body) = tus(
        &app,
        Method::PATCH,
        &url,
        &token,
        &patch_headers(0),
        original[..half].to_vec(),
    )
    .await;
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = tus(
        &app,
        Method::PATCH,
        &url,
        &token,
        &patch_headers(0),
        original[..10].to_vec(),
    )
    .await;
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    let (status, headers, _) = tus(
        &app,
        Method::PATCH,
        &url,
        &token,
        &[
            ("Upload-Offset", half.to_string()),
            ("Content-Type", "application/offset+octet-stream".into()),
        ],
        vec![1],
    )
    .await;
    assert_eq!(
        (status, header(&headers, "tus-version")),
        (412, "1.0.0".into())
    );
    let (status, _, _) = tus(
        &app,
        Method::PATCH,
        &url,
        &token,
        &[
            (TUS.0, TUS.1.into()),
            ("Upload-Offset", half.to_string()),
            ("Content-Type", "application/json".into()),
        ],
        vec![1],
    )
    .await;
    assert_eq!(status, 415);
    let mallory = app.signed_in_user("mallory").await;
    let (status, _, _) = tus(
        &app,
        Method::HEAD,
        &url,
        &mallory,
        &[(TUS.0, TUS.1.into())],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 404, "another user cannot see the upload");
    let (status, _, _) = tus(
        &app,
        Method::HEAD,
        "/api/uploads/..%2F..%2Fetc",
        &token,
        &[(TUS.0, TUS.1.into())],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        offset(&app, &token, &url).await,
        half as u64,
        "refused requests changed nothing"
    );
}

#[actix_web::test]
async fn the_server_describes_itself_and_refuses_bad_creations() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.signed_in_user("alice").await;
    let (status, headers, _) = tus(
        &app,
        Method::OPTIONS,
        "/api/uploads",
        &token,
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(header(&headers, "tus-version"), "1.0.0");
    assert!(header(&headers, "tus-extension").contains("creation"));
    assert!(header(&headers, "tus-extension").contains("checksum"));
    assert_eq!(header(&headers, "tus-checksum-algorithm"), "sha1");
    assert_eq!(
        header(&headers, "tus-max-size"),
        app.settings.upload.max_bytes.to_string()
    );

    let title = format!("title {}", b64("Card"));
    // Tried: no session, no length, too long, no title, bad metadata, a deferred length.
    let (status, _, _) = tus(
        &app,
        Method::POST,
        "/api/uploads",
        "bad-token",
        &[
            (TUS.0, TUS.1.into()),
            ("Upload-Length", "10".into()),
            ("Upload-Metadata", title.clone()),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 401);
    for (headers, expected) in [
        (vec![("Upload-Metadata", title.clone())], 400),
        (
            vec![
                (
                    "Upload-Length",
                    (app.settings.upload.max_bytes + 1).to_string(),
                ),
                ("Upload-Metadata", title.clone()),
            ],
            413,
        ),
        (vec![("Upload-Length", "10".into())], 400),
        (
            vec![
                ("Upload-Length", "10".into()),
                ("Upload-Metadata", "title ***".into()),
            ],
            400,
        ),
        (
            vec![
                ("Upload-Defer-Length", "1".into()),
                ("Upload-Metadata", title.clone()),
            ],
            400,
        ),
    ] {
        let mut all = vec![(TUS.0, TUS.1.to_string())];
        all.extend(headers.clone());
        let (status, _, body) =
            tus(&app, Method::POST, "/api/uploads", &token, &all, Vec::new()).await;
        assert_eq!(
            status,
            expected,
            "{headers:?}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    app.assert_no_files_in("tmp/resumable").await;

    // A finished upload that is not a video: 422, and nothing is left.
    let junk = b"not a video at all".to_vec();
    let url = create(&app, &token, junk.len()).await;
    let (status, _, body) = tus(
        &app,
        Method::PATCH,
        &url,
        &token,
        &[
            (TUS.0, TUS.1.into()),
            ("Upload-Offset", "0".into()),
            ("Content-Type", "application/offset+octet-stream".into()),
        ],
        junk,
    )
    .await;
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));
    app.assert_no_files_in("tmp/resumable").await;
    app.assert_no_files_in("tmp").await;

    // A client that gives up: DELETE removes the bytes.
    let url = create(&app, &token, 100).await;
    let (status, _, _) = tus(
        &app,
        Method::DELETE,
        &url,
        &token,
        &[(TUS.0, TUS.1.into())],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 204);
    app.assert_no_files_in("tmp/resumable").await;
}

/// The tus checksum extension (advertised by OPTIONS, above): a chunk whose
/// `Upload-Checksum` does not match (one byte flipped in transit) is refused with 460 and
/// none of it is kept; the same chunk with its right checksum is taken; another algorithm
/// is 400.
#[actix_web::test]
async fn a_chunk_that_fails_its_checksum_is_refused_with_460_and_not_kept() {
    use sha1::Digest;
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.signed_in_user("careful").await;

    let original = bytes(Fixture::Faststart);
    let half = original.len() / 2;
    let url = create(&app, &token, original.len()).await;
    let first = original[..half].to_vec();
    let sum = |data: &[u8]| {
        format!(
            "sha1 {}",
            base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(data))
        )
    };
    let patch = |offset: usize, body: Vec<u8>, checksum: String| {
        let (app, token, url) = (&app, &token, &url);
        async move {
            tus(
                app,
                Method::PATCH,
                url,
                token,
                &[
                    (TUS.0, TUS.1.into()),
                    ("Upload-Offset", offset.to_string()),
                    ("Content-Type", "application/offset+octet-stream".into()),
                    ("Upload-Checksum", checksum),
                ],
                body,
            )
            .await
        }
    };
    let mut damaged = first.clone();
    damaged[100] ^= 0x01;
    let (status, _, body) = patch(0, damaged, sum(&first)).await;
    assert_eq!(status, 460, "{}", String::from_utf8_lossy(&body));
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error_code"], "031");
    assert_eq!(
        offset(&app, &token, &url).await,
        0,
        "nothing of it was kept"
    );

    let (status, _, _) = patch(0, first.clone(), "md5 abc=".into()).await;
    assert_eq!(status, 400, "an algorithm the server does not offer");
    assert_eq!(offset(&app, &token, &url).await, 0);

    let (status, _, _) = patch(0, first.clone(), sum(&first)).await;
    assert_eq!(status, 204);
    assert_eq!(offset(&app, &token, &url).await, half as u64);
    let rest = original[half..].to_vec();
    let (status, _, _) = patch(half, rest.clone(), sum(&rest)).await;
    assert_eq!(status, 204);
}
