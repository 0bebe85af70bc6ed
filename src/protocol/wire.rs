//! Primitive encodings: LEB128 varints and length-prefixed strings, with a bounds-checked reader.

use super::error::DecodeError;

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends `bytes` prefixed by their length.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A cursor over untrusted input. Every method checks bounds and returns an error instead of
/// panicking.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Reader { rest: input }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self.rest.split_first().ok_or(DecodeError::Truncated)?;
        self.rest = rest;
        Ok(first)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            // The 10th byte may only contribute the single top bit of a u64.
            if i == 9 && bits > 1 {
                return Err(DecodeError::VarintOverflow);
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    /// Reads a varint that must fit `max`; anything larger is `TooLarge` for `field`.
    pub(crate) fn varint_max(&mut self, max: u64, field: &'static str) -> Result<u64, DecodeError> {
        let v = self.varint()?;
        if v > max {
            return Err(DecodeError::TooLarge { field });
        }
        Ok(v)
    }

    /// Reads a length-prefixed byte string of at most `max` bytes. The length is checked against
    /// the limit and the remaining input before the caller allocates anything.
    pub(crate) fn bytes(
        &mut self,
        max: usize,
        field: &'static str,
    ) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| DecodeError::TooLarge { field })?;
        if len > max {
            return Err(DecodeError::TooLarge { field });
        }
        self.take(len)
    }

    pub(crate) fn str(&mut self, max: usize, field: &'static str) -> Result<&'a str, DecodeError> {
        let bytes = self.bytes(max, field)?;
        core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { field })
    }

    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if len > self.rest.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    /// Everything left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }
}
