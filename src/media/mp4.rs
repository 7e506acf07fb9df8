//! The top-level box layout of an MP4 file: enough to tell whether `moov` (the index)
//! comes before `mdat` (the media), which a browser needs to start playing at once.

use std::io::{self, Read, Seek, SeekFrom};

/// Where the index sits relative to the media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoovPlacement {
    BeforeMdat,
    AfterMdat,
    /// One of the two boxes was not found.
    Unknown,
}

/// Most top-level boxes a well-formed file has; a scan stops here.
const MAX_BOXES: usize = 1000;

/// Reads the top-level box headers of `file` (blocking).
pub fn moov_placement<F: Read + Seek>(file: &mut F) -> io::Result<MoovPlacement> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut pos = 0u64;
    for _ in 0..MAX_BOXES {
        if pos + 8 > len {
            break;
        }
        file.seek(SeekFrom::Start(pos))?;
        let mut header = [0u8; 16];
        file.read_exact(&mut header[..8])?;
        let size32 = u32::from_be_bytes(header[..4].try_into().expect("4 bytes"));
        let kind: [u8; 4] = header[4..8].try_into().expect("4 bytes");
        let size = match size32 {
            0 => len - pos,
            1 => {
                file.read_exact(&mut header[8..16])?;
                u64::from_be_bytes(header[8..16].try_into().expect("8 bytes"))
            }
            n => u64::from(n),
        };
        match &kind {
            b"moov" => return Ok(MoovPlacement::BeforeMdat),
            b"mdat" => return after_mdat(file, pos, size, len),
            _ => {}
        }
        if size < 8 {
            break;
        }
        pos += size;
    }
    Ok(MoovPlacement::Unknown)
}

/// `mdat` came first: is there a `moov` after it?
fn after_mdat<F: Read + Seek>(
    file: &mut F,
    mdat_pos: u64,
    mdat_size: u64,
    len: u64,
) -> io::Result<MoovPlacement> {
    let mut pos = mdat_pos + mdat_size.max(8);
    for _ in 0..MAX_BOXES {
        if pos + 8 > len {
            break;
        }
        file.seek(SeekFrom::Start(pos))?;
        let mut header = [0u8; 16];
        file.read_exact(&mut header[..8])?;
        let size32 = u32::from_be_bytes(header[..4].try_into().expect("4 bytes"));
        if &header[4..8] == b"moov" {
            return Ok(MoovPlacement::AfterMdat);
        }
        let size = match size32 {
            0 => break,
            1 => {
                file.read_exact(&mut header[8..16])?;
                u64::from_be_bytes(header[8..16].try_into().expect("8 bytes"))
            }
            n => u64::from(n),
        };
        if size < 8 {
            break;
        }
        pos += size;
    }
    Ok(MoovPlacement::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn boxed(kind: &[u8; 4], body: usize) -> Vec<u8> {
        let mut b = ((body + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.resize(body + 8, 0);
        b
    }

    #[test]
    fn moov_first_is_faststart() {
        let file = [boxed(b"ftyp", 16), boxed(b"moov", 40), boxed(b"mdat", 100)].concat();
        assert_eq!(
            moov_placement(&mut Cursor::new(file)).unwrap(),
            MoovPlacement::BeforeMdat
        );
    }

    #[test]
    fn moov_at_the_end_is_found() {
        let file = [
            boxed(b"ftyp", 16),
            boxed(b"free", 0),
            boxed(b"mdat", 100),
            boxed(b"moov", 40),
        ]
        .concat();
        assert_eq!(
            moov_placement(&mut Cursor::new(file)).unwrap(),
            MoovPlacement::AfterMdat
        );
    }

    #[test]
    fn a_64_bit_mdat_size_is_followed() {
        let mut mdat = 1u32.to_be_bytes().to_vec();
        mdat.extend_from_slice(b"mdat");
        mdat.extend_from_slice(&(16u64 + 50).to_be_bytes());
        mdat.resize(66, 0);
        let file = [boxed(b"ftyp", 16), mdat, boxed(b"moov", 40)].concat();
        assert_eq!(
            moov_placement(&mut Cursor::new(file)).unwrap(),
            MoovPlacement::AfterMdat
        );
    }

    #[test]
    fn truncated_or_garbage_input_is_unknown() {
        assert_eq!(
            moov_placement(&mut Cursor::new(b"hello world".to_vec())).unwrap(),
            MoovPlacement::Unknown
        );
        assert_eq!(
            moov_placement(&mut Cursor::new(Vec::new())).unwrap(),
            MoovPlacement::Unknown
        );
        let zero_size = [0u8, 0, 0, 4, b'a', b'b', b'c', b'd', 0, 0].to_vec();
        assert_eq!(
            moov_placement(&mut Cursor::new(zero_size)).unwrap(),
            MoovPlacement::Unknown
        );
    }
}
