//! Base64 for the HTTP transports (PROTOCOL.md §8): SSE carries each frame as one base64 `data:`
//! line, and the SSE handshake carries HELLO as base64url in the query string.
//!
//! Small on purpose (the package size budget): one encoder with a choice of alphabet, and one
//! total decoder that accepts both alphabets, with or without padding, and checks the length
//! before it allocates.

use super::error::DecodeError;

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Standard base64 with `=` padding (an SSE `data:` line).
pub fn encode_base64(bytes: &[u8]) -> String {
    encode(bytes, STANDARD, true)
}

/// URL-safe base64 without padding (a query-string value).
pub fn encode_base64url(bytes: &[u8]) -> String {
    encode(bytes, URL_SAFE, false)
}

fn encode(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    // `v & 63` is always in range; `get` keeps the no-indexing rule without a branch that can fire.
    let sym = |v: u32| char::from(alphabet.get((v & 63) as usize).copied().unwrap_or(b'A'));
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        if chunk.len() > 1 {
            out.push(sym(n >> 6));
        } else if pad {
            out.push('=');
        }
        if chunk.len() > 2 {
            out.push(sym(n));
        } else if pad {
            out.push('=');
        }
    }
    out
}

fn value(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    }))
}

/// Decodes standard or URL-safe base64, padded or not, refusing anything longer than `max` decoded
/// bytes before allocating. Whitespace is not allowed (SSE strips the line ending already).
pub fn decode_base64(text: &str, max: usize) -> Result<Vec<u8>, DecodeError> {
    const FIELD: &str = "base64";
    let s = text.trim_end_matches('=').as_bytes();
    if text.len() - s.len() > 2 || s.len() % 4 == 1 {
        return Err(DecodeError::InvalidValue { field: FIELD });
    }
    let len = s.len() / 4 * 3 + (s.len() % 4).saturating_sub(1);
    if len > max {
        return Err(DecodeError::TooLarge { field: FIELD });
    }
    let mut out = Vec::with_capacity(len);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = value(c).ok_or(DecodeError::InvalidValue { field: FIELD })?;
            n |= v << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(bytes.get(..chunk.len() - 1).unwrap_or(&bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length_in_both_alphabets() {
        let data: Vec<u8> = (0..=255u8).rev().collect();
        for n in 0..40 {
            let bytes = data.get(..n).unwrap_or(&[]);
            for text in [encode_base64(bytes), encode_base64url(bytes)] {
                assert_eq!(
                    decode_base64(&text, 1 << 20).as_deref(),
                    Ok(bytes),
                    "{text}"
                );
            }
        }
        assert_eq!(encode_base64(b"hi?"), "aGk/");
        assert_eq!(encode_base64(b"h"), "aA==");
        assert_eq!(encode_base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn refuses_bad_input_without_panicking() {
        for bad in ["a", "abcde", "ab=c", "a===", "ab\ncd", "€€€€", "ab cd"] {
            assert!(decode_base64(bad, 100).is_err(), "{bad:?}");
        }
        assert_eq!(
            decode_base64("AAAAAAAA", 5),
            Err(DecodeError::TooLarge { field: "base64" })
        );
    }
}
