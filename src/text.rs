//! Messages without `core::fmt`: the wasm build spells its error texts with these and
//! `[..].concat()`, so no formatting machinery reaches the module. `Display` impls delegate here.

/// `n` in decimal.
pub(crate) fn dec(mut n: u64) -> String {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..)
        .map(|d| d.iter().map(|&b| b as char).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dec_matches_display() {
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::MAX] {
            assert_eq!(super::dec(n), n.to_string());
        }
    }
}
