//! New secrets and ids for operators: API keys, connection tokens, ULIDs; and API keys
//! read back from an operator's input.

use std::io::Read;

use base64::Engine;

fn random<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// 256 random bits, URL-safe, with a prefix that says what the secret is.
pub fn new_secret(prefix: &str) -> std::io::Result<String> {
    let bytes = random::<32>()?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// A ULID for `now_ms`: 48 bits of milliseconds, 80 random bits, Crockford base32.
pub fn new_ulid(now_ms: u64) -> std::io::Result<String> {
    let random = random::<10>()?;
    let mut value: u128 = u128::from(now_ms & 0xFFFF_FFFF_FFFF) << 80;
    for (i, byte) in random.iter().enumerate() {
        value |= u128::from(*byte) << (72 - 8 * i);
    }
    Ok(encode_ulid(value))
}

/// The API key in `input` (standard input or a file): one line, its surrounding whitespace
/// and line ending dropped, that the function would accept as `x-api-key`. The error
/// never quotes the input, which may hold the secret.
pub fn api_key_from(input: &str) -> Result<&str, &'static str> {
    let key = input.trim_ascii();
    if key.is_empty() {
        return Err("no API key in it (it is empty)");
    }
    update_connection::auth::api_key(Some(key)).ok_or(
        "not one API key: expected one line of visible ASCII, without spaces, as create-key printed it",
    )
}

fn encode_ulid(value: u128) -> String {
    use update_connection::schema::ULID_ALPHABET as ALPHABET;
    (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (5 * i)) & 0x1F) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use update_connection::domain::ConnectionId;

    #[test]
    fn ulids_are_valid_connection_ids_and_sort_by_time() {
        let a = new_ulid(1_700_000_000_000).unwrap();
        let b = new_ulid(1_700_000_000_001).unwrap();
        assert!(ConnectionId::parse(&a).is_some(), "{a}");
        assert!(a < b);
        assert_eq!(encode_ulid(u128::MAX), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        assert_eq!(encode_ulid(0), "00000000000000000000000000");
    }

    #[test]
    fn an_api_key_is_read_as_one_line() {
        assert_eq!(api_key_from("uc_key_abc"), Ok("uc_key_abc"));
        assert_eq!(api_key_from("uc_key_abc\n"), Ok("uc_key_abc"));
        assert_eq!(api_key_from(" uc_key_abc\r\n"), Ok("uc_key_abc"));
        for bad in ["", "\n", " \t\r\n", "a\nb", "a b", "a\tb", "caf\u{e9}"] {
            assert!(api_key_from(bad).is_err(), "{bad:?}");
        }
        let long = "k".repeat(update_connection::auth::MAX_CREDENTIAL_LEN + 1);
        assert!(api_key_from(&long).is_err());
    }

    #[test]
    fn secrets_are_long_and_distinct() {
        let a = new_secret("uc_key_").unwrap();
        assert!(a.starts_with("uc_key_") && a.len() == 7 + 43, "{a}");
        assert_ne!(a, new_secret("uc_key_").unwrap());
        assert!(update_connection::auth::api_key(Some(&a)).is_some());
    }
}
