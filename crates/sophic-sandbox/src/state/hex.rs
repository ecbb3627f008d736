//! Bytes as lowercase hex in a state's records and header (keys, fingerprints, digests).

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as hex.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xF)]));
    }
    out
}

/// 32 bytes from 64 hex digits; `None` for anything else.
pub fn decode32(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let value = |d: u8| {
        char::from(d)
            .to_digit(16)
            .and_then(|v| u8::try_from(v).ok())
    };
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = (value(digits[2 * i])? << 4) | value(digits[2 * i + 1])?;
    }
    Some(out)
}

/// `#[serde(with = "hex::bytes32")]`: a `[u8; 32]` as 64 hex digits.
pub mod bytes32 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// As 64 hex digits.
    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(bytes))
    }

    /// From 64 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        super::decode32(&text).ok_or_else(|| serde::de::Error::custom("not 32 bytes of hex"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_goes_both_ways_and_refuses_what_is_not_32_bytes() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(super::decode32(&super::encode(&bytes)), Some(bytes));
        assert_eq!(super::encode(&[0x0f, 0xa0]), "0fa0");
        for bad in ["", "0f", &"g".repeat(64), &"é".repeat(32)] {
            assert_eq!(super::decode32(bad), None, "{bad}");
        }
    }
}
