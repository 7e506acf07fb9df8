// Upload page: sends the file with the tus resumable upload protocol (POST to create, then
// PATCH in chunks with Upload-Offset), shows a progress bar, and after a dropped connection
// asks the server how much arrived (HEAD) and goes on from there. An upload interrupted by
// closing the page resumes when the same file is chosen again.
"use strict";

(() => {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const bar = document.getElementById("progress");
  const barText = document.getElementById("progress-text");
  const status = document.getElementById("upload-status");
  const button = document.getElementById("upload-button");

  const TUS = { "Tus-Resumable": "1.0.0" };
  // Cookie-authenticated API calls that change something carry the session's CSRF token.
  const CSRF = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const CHUNK = 8 * 1024 * 1024;
  const RETRY_MS = [1000, 2000, 5000, 10000, 20000];

  function say(text) {
    status.textContent = text;
  }

  function showProgress(sent, total) {
    const pct = total ? Math.floor((sent / total) * 100) : 100;
    bar.value = pct;
    barText.textContent = `${pct}%`;
  }

  function b64(text) {
    return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function fingerprint(file) {
    return `roomcast-upload:${file.name}:${file.size}:${file.lastModified}`;
  }

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function errorOf(res) {
    const body = await res.json().catch(() => ({}));
    return new HttpError(res.status, body.error || `the server answered ${res.status}`);
  }

  async function create(file, title, description) {
    const res = await fetch("/api/uploads", {
      method: "POST",
      credentials: "same-origin",
      headers: {
        ...TUS,
        "X-CSRF-Token": CSRF,
        "Upload-Length": String(file.size),
        "Upload-Metadata": `title ${b64(title)},description ${b64(description)},filename ${b64(file.name)}`,
      },
    });
    if (res.status !== 201) throw await errorOf(res);
    return res.headers.get("Location");
  }

  async function offsetOf(url) {
    const res = await fetch(url, { method: "HEAD", credentials: "same-origin", headers: TUS });
    if (res.status !== 200) throw new HttpError(res.status, "the upload is gone");
    return Number(res.headers.get("Upload-Offset"));
  }

  // One PATCH through XMLHttpRequest, which reports upload progress.
  function patch(url, file, offset, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PATCH", url);
      xhr.withCredentials = true;
      xhr.setRequestHeader("Tus-Resumable", "1.0.0");
      xhr.setRequestHeader("X-CSRF-Token", CSRF);
      xhr.setRequestHeader("Upload-Offset", String(offset));
      xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
      xhr.upload.onprogress = (e) => onProgress(offset + e.loaded);
      xhr.onload = () => {
        if (xhr.status === 204) {
          resolve({
            offset: Number(xhr.getResponseHeader("Upload-Offset")),
            videoId: xhr.getResponseHeader("Roomcast-Video-Id"),
          });
        } else {
          let message = `the server answered ${xhr.status}`;
          try { message = JSON.parse(xhr.responseText).error || message; } catch (_) { /* not JSON */ }
          reject(new HttpError(xhr.status, message));
        }
      };
      xhr.onerror = () => reject(new HttpError(0, "the connection dropped"));
      xhr.send(file.slice(offset, Math.min(file.size, offset + CHUNK)));
    });
  }

  // Retry only what a retry can fix: dropped connections, busy or failing servers.
  function retryable(err) {
    return err.status === 0 || err.status === 409 || err.status === 423 || err.status === 429 || err.status >= 500;
  }

  async function send(file, title, description) {
    const key = fingerprint(file);
    let url = localStorage.getItem(key);
    let offset = 0;
    if (url) {
      offset = await offsetOf(url).catch(() => { url = null; return 0; });
      if (url) say(`Resuming at ${Math.floor((offset / file.size) * 100)}%…`);
    }
    if (!url) {
      url = await create(file, title, description);
      localStorage.setItem(key, url);
    }
    let failures = 0;
    for (;;) {
      try {
        const done = await patch(url, file, offset, (sent) => showProgress(sent, file.size));
        offset = done.offset;
        failures = 0;
        showProgress(offset, file.size);
        if (done.videoId) {
          localStorage.removeItem(key);
          return done.videoId;
        }
      } catch (err) {
        if (!retryable(err) || failures >= RETRY_MS.length) {
          if (!retryable(err)) localStorage.removeItem(key);
          throw err;
        }
        say(`Connection trouble (${err.message}); retrying…`);
        await sleep(RETRY_MS[failures++]);
        offset = await offsetOf(url).catch(() => offset);
      }
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("upload-file").files[0];
    if (!file) return;
    const max = Number(form.dataset.maxBytes);
    if (file.size > max) {
      say(`This file is larger than the ${max} bytes allowed.`);
      return;
    }
    button.disabled = true;
    document.getElementById("upload-progress").hidden = false;
    showProgress(0, file.size);
    say("Uploading…");
    try {
      const title = document.getElementById("upload-title").value;
      const description = document.getElementById("upload-description").value;
      const id = await send(file, title, description);
      say("Uploaded. Processing…");
      window.location.assign(`/videos/${encodeURIComponent(id)}`);
    } catch (err) {
      say(`Upload failed: ${err.message}`);
      button.disabled = false;
    }
  });
})();
