//! Real media for the tests, made once per test run by ffmpeg (`testsrc2` + `sine`), and a
//! few helpers to upload it and look inside MP4 files.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use awc::http::Method;
use serde_json::Value;

use crate::helpers::{Auth, JsonResponse, TestApp};

/// Kinds of fixture.
#[derive(Clone, Copy)]
pub enum Fixture {
    /// 3 s, 320x240 H.264 + AAC, `moov` at the end (ffmpeg's default).
    LateMoov,
    /// The same, remuxed with `moov` first.
    Faststart,
    /// 60 s of MPEG-TS (H.264/AAC, a keyframe per second): a live source for `file:` rooms.
    LiveTs,
}

/// The fixture's path, made on first use.
pub fn fixture(kind: Fixture) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("media-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let late = dir.join("late.mp4");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-shortest",
            late.to_str().unwrap(),
        ]);
        ffmpeg(&[
            "-i",
            late.to_str().unwrap(),
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            dir.join("faststart.mp4").to_str().unwrap(),
        ]);
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine",
            "-t",
            "60",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-f",
            "mpegts",
            dir.join("live.ts").to_str().unwrap(),
        ]);
        dir
    });
    dir.join(match kind {
        Fixture::LateMoov => "late.mp4",
        Fixture::Faststart => "faststart.mp4",
        Fixture::LiveTs => "live.ts",
    })
}

pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn bytes(kind: Fixture) -> Vec<u8> {
    std::fs::read(fixture(kind)).unwrap()
}

/// Top-level MP4 box names in order.
pub fn top_level_boxes(data: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let size = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        names.push(String::from_utf8_lossy(&data[pos + 4..pos + 8]).into_owned());
        if size < 8 {
            break;
        }
        pos += size;
    }
    names
}

pub fn index_of(boxes: &[String], name: &str) -> usize {
    boxes
        .iter()
        .position(|b| b == name)
        .unwrap_or_else(|| panic!("no {name} in {boxes:?}"))
}

/// A `multipart/form-data` body: its content type and bytes.
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "roomcast-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some((filename, data)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: video/mp4\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl TestApp {
    /// `POST /api/videos` with a title and the file's bytes.
    pub async fn upload(
        &self,
        auth: Auth<'_>,
        title: &str,
        name: &str,
        data: &[u8],
    ) -> JsonResponse {
        let (content_type, body) = multipart(
            &[("title", title), ("description", "made by ffmpeg")],
            Some((name, data)),
        );
        let req = self
            .client
            .post(self.url("/api/videos"))
            .insert_header(("Content-Type", content_type));
        let req = match auth {
            Auth::Bearer(t) => req.insert_header(("Authorization", format!("Bearer {t}"))),
            _ => req,
        };
        let mut res = req
            .send_body(body)
            .await
            .expect("the upload reaches the server");
        let bytes = res.body().limit(1 << 20).await.unwrap();
        JsonResponse {
            status: res.status(),
            headers: res.headers().clone(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Polls the video until it leaves `processing`; returns its JSON.
    pub async fn wait_processed(&self, token: &str, id: &str) -> Value {
        for _ in 0..300 {
            let res = self
                .json(
                    Method::GET,
                    &format!("/api/videos/{id}"),
                    Auth::Bearer(token),
                    None,
                )
                .await;
            assert_eq!(res.status, 200, "{:?}", res.body);
            if res.body["status"] != "processing" {
                return res.body;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("video {id} is still processing after 30 s");
    }

    /// Uploads the fixture as `token`'s user and waits until it is ready; returns its JSON.
    pub async fn ready_video(&self, token: &str, kind: Fixture) -> Value {
        let res = self
            .upload(Auth::Bearer(token), "Test card", "test.mp4", &bytes(kind))
            .await;
        assert_eq!(res.status, 201, "{:?}", res.body);
        let video = self
            .wait_processed(token, res.body["id"].as_str().unwrap())
            .await;
        assert_eq!(video["status"], "ready", "{video}");
        video
    }

    /// Files left in a storage subdirectory (not descending).
    pub fn files_in(&self, sub: &str) -> Vec<String> {
        let dir = self.settings.storage.dir.join(sub);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Asserts that a storage subdirectory empties within a few seconds (a failed upload's
    /// file is removed on the blocking pool just after the response).
    pub async fn assert_no_files_in(&self, sub: &str) {
        for _ in 0..50 {
            if self.files_in(sub).is_empty() {
                return;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{sub} still holds {:?}", self.files_in(sub));
    }

    /// A GET with extra headers; returns status, headers and body.
    pub async fn get_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
        let mut req = self.client.request(method, self.url(path));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let mut res = req.send().await.expect("the request reaches the server");
        let body = res.body().limit(64 << 20).await.unwrap();
        (res.status().as_u16(), res.headers().clone(), body.to_vec())
    }
}
