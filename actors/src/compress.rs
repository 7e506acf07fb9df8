//! Compressed danmaku frames: raw DEFLATE (RFC 1951, no zlib header or trailer), what
//! browsers inflate with `DecompressionStream('deflate-raw')`. A room compresses each batch
//! once for all its compressed viewers; a hub compresses a compressed viewer's `hello`.

use bytes::Bytes;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use std::io::Write;

/// The level, chosen by measurement on batches of mixed Chinese and English danmaku
/// (`bench/src/bin/deflate-levels.rs`, `docs/benchmarks.md`): a batch is compressed once
/// but sent to every compressed viewer, so bytes saved count once per viewer while the
/// time counts once. Level 6 sends 36 % of the plain bytes (level 1: 40 %) for 0.2 ms more
/// per 100-message batch; past 6 nothing is gained.
pub const LEVEL: u32 = 6;

/// The raw DEFLATE of `text` at `level`.
pub fn deflate_at(text: &str, level: u32) -> Bytes {
    let mut encoder = DeflateEncoder::new(
        Vec::with_capacity(text.len() / 2 + 64),
        Compression::new(level),
    );
    encoder
        .write_all(text.as_bytes())
        .expect("writing to memory cannot fail");
    Bytes::from(encoder.finish().expect("writing to memory cannot fail"))
}

/// The raw DEFLATE of `text` at [`LEVEL`].
pub fn deflate(text: &str) -> Bytes {
    deflate_at(text, LEVEL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::DeflateDecoder;
    use std::io::Read;

    #[test]
    fn what_is_deflated_inflates_to_the_same_text() {
        let text = r#"{"type":"batch","seq":1,"items":[{"text":"弹幕 danmaku 弹幕"}]}"#;
        let packed = deflate(text);
        assert!(packed.len() < text.len() + 16);
        let mut back = String::new();
        DeflateDecoder::new(&packed[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
        assert_ne!(&packed[..2], b"\x78\x9c", "no zlib header");
    }
}
