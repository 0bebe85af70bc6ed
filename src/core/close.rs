//! Close codes: the ones the client reports, which server codes are final, and the one rule for
//! which codes an app (and a browser `WebSocket.close`) may send.

/// Close code the client reports when it gives up reconnecting.
pub const CLOSE_GAVE_UP: u16 = 1006;
/// Close code the client reports for a protocol version mismatch.
pub const CLOSE_PROTOCOL: u16 = 1002;
/// Close code the client reports after repeated 401/403 answers.
pub const CLOSE_POLICY: u16 = 1008;
/// Server close codes in this range are final: the client does not reconnect.
pub const FINAL_CLOSE_CODES: core::ops::RangeInclusive<u16> = 4000..=4499;
/// The "try again later" close code.
pub const CLOSE_TRY_LATER: u16 = 1013;

/// Whether a server close code means "do not reconnect" (PROTOCOL.md §6).
pub fn is_final(code: u16) -> bool {
    FINAL_CLOSE_CODES.contains(&code)
}

/// Whether an app may close with `code`: 1000 or 3000–4999, the codes a browser's
/// `WebSocket.close(code)` accepts. Anything else (1006 in particular, which means "abnormal")
/// would report a contradiction to the app and throw inside the browser.
pub fn is_app_close_code(code: u16) -> bool {
    code == 1000 || (3000..=4999).contains(&code)
}

/// `code` if a transport may send it, else 1000 (browsers throw on other codes).
pub(crate) fn transport_code(code: u16) -> u16 {
    if is_app_close_code(code) {
        code
    } else {
        1000
    }
}

/// Checks an app's `close(code, reason)`: the code must be 1000 or 3000–4999 and the reason at
/// most 123 bytes of UTF-8 (what fits a close frame). Both the JS and the Rust API use this rule.
pub fn check_app_close(code: u16, reason: &str) -> Result<(), super::ClientError> {
    if !is_app_close_code(code) {
        return Err(super::ClientError::InvalidClose {
            code,
            why: "close code must be 1000 or in 3000–4999",
        });
    }
    if reason.len() > crate::protocol::MAX_CLOSE_REASON_BYTES {
        return Err(super::ClientError::InvalidClose {
            code,
            why: "close reason is longer than 123 bytes",
        });
    }
    Ok(())
}
