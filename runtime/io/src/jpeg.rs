//! Is this JPEG whole? Decoders fill what a truncated JPEG lacks with grey and
//! report success, so a file cut short by a full disk, or a camera frame cut short
//! by a USB hiccup, would be classified as if it were a picture. A complete JPEG
//! ends with the end-of-image marker (`FF D9`); cameras may pad their buffers with
//! zero bytes after it, which are allowed.

/// The start-of-image marker every JPEG begins with.
const SOI: [u8; 2] = [0xff, 0xd8];
/// The end-of-image marker every complete JPEG ends with.
const EOI: [u8; 2] = [0xff, 0xd9];

/// Whether `bytes` start like a JPEG.
pub fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&SOI)
}

/// JPEG data that ends before its end-of-image marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    /// Bytes of data there were.
    pub len: usize,
}

impl std::fmt::Display for Truncated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the JPEG is truncated: its {} bytes end without the end-of-image marker",
            self.len
        )
    }
}

impl std::error::Error for Truncated {}

/// `Ok` when `bytes` (a JPEG) end with the end-of-image marker, trailing zero
/// padding aside.
pub fn check_complete(bytes: &[u8]) -> Result<(), Truncated> {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    // The marker cannot be the start-of-image marker's own bytes.
    if end >= SOI.len() + EOI.len() && bytes[..end].ends_with(&EOI) {
        Ok(())
    } else {
        Err(Truncated { len: bytes.len() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_jpeg_is_whole_with_its_end_marker_even_when_padded() {
        assert!(check_complete(&[0xff, 0xd8, 0x00, 0xff, 0xd9]).is_ok());
        assert!(check_complete(&[0xff, 0xd8, 0x00, 0xff, 0xd9, 0, 0, 0]).is_ok());
        assert!(check_complete(&[0xff, 0xd8, 0x00, 0xff]).is_err());
        assert!(check_complete(&[0xff, 0xd9]).is_err());
        assert!(check_complete(&[]).is_err());
        let e = check_complete(&[0xff, 0xd8, 1, 2]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the JPEG is truncated: its 4 bytes end without the end-of-image marker"
        );
    }

    proptest! {
        #[test]
        fn data_is_whole_exactly_when_it_ends_with_the_marker(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            padding in 0usize..8,
        ) {
            let mut whole = SOI.to_vec();
            whole.extend(&body);
            whole.extend(EOI);
            whole.resize(whole.len() + padding, 0);
            prop_assert!(check_complete(&whole).is_ok());
            // Cut anywhere before the marker's last byte: truncated.
            let cut = whole.len() - padding - 1;
            for len in 0..cut {
                let part = &whole[..len];
                let ends_in_marker = part
                    .iter()
                    .rposition(|&b| b != 0)
                    .is_some_and(|i| i >= 3 && part[..=i].ends_with(&EOI));
                prop_assert_eq!(check_complete(part).is_ok(), ends_in_marker);
            }
        }
    }
}
