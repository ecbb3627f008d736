//! Id and secret generation. Ids are a type prefix and 14 characters from a seeded
//! generator, so a sandbox started with the same seed hands out the same ids in the same
//! order. Secrets (tokens' signatures, OAuth client secrets, webhook signing keys) are 32
//! random bytes from the operating system, as the contract says of webhook secrets, so no
//! one can work out another account's token from the seed; a secret seed (`--seed` on the
//! command line) makes them reproducible too, for a demo that must print the same
//! credentials every time.

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Makes prefixed ids (`ord_…`, `acc_…`) and secrets.
#[derive(Debug)]
pub struct IdGen {
    rng: StdRng,
    /// `None`: secrets come from the operating system.
    secrets: Option<StdRng>,
}

impl IdGen {
    /// Ids from `seed`; secrets from `secret_seed`, or from the operating system.
    pub fn new(seed: u64, secret_seed: Option<u64>) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            // Another stream than the ids', so that the two never repeat each other.
            secrets: secret_seed.map(|s| StdRng::seed_from_u64(s ^ 0x5EC2_E7A5_5EC2_E7A5)),
        }
    }

    /// Ids from `seed`; secrets from a generator keyed with `key` (a state's, kept in its
    /// header so that replaying it makes the same secrets again).
    pub fn keyed(seed: u64, key: [u8; 32]) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            secrets: Some(StdRng::from_seed(key)),
        }
    }

    /// A new id with `prefix` (`"ord"` gives `ord_…`).
    pub fn next(&mut self, prefix: &str) -> String {
        // Written in place (no formatting): an order makes five ids on its way to settled.
        let mut id = String::with_capacity(prefix.len() + 1 + 14);
        id.push_str(prefix);
        id.push('_');
        id.extend((0..14).map(|_| ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char));
        id
    }

    /// Secret bytes (webhook keys, token signatures).
    pub fn secret_bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        match &mut self.secrets {
            Some(seeded) => seeded.fill_bytes(&mut out),
            None => rand::rng().fill_bytes(&mut out),
        }
        out
    }

    /// A secret string: `prefix_` and 32 characters (about 190 bits).
    pub fn secret(&mut self, prefix: &str) -> String {
        let bytes = self.secret_bytes::<32>();
        let body: String = bytes
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
            .collect();
        format!("{prefix}_{body}")
    }
}

/// A short string kept in place: an id ([`IdGen::next`] makes 18 bytes) costs no allocation
/// of its own, where a `String` is 24 bytes and an allocation. The world keeps several ids
/// per order (its account, its position, its trades', its events'), so this is most of
/// what an id costs (issue 10).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum ShortStr {
    /// Up to [`ShortStr::INLINE`] bytes, in place.
    Inline {
        len: u8,
        bytes: [u8; ShortStr::INLINE],
    },
    /// A longer string.
    Heap(Box<str>),
}

impl ShortStr {
    /// The most bytes kept in place (so that the whole is 24 bytes, a `String`'s size).
    pub const INLINE: usize = 22;

    /// `s`, in place when it fits.
    pub fn new(s: &str) -> Self {
        if s.len() > Self::INLINE {
            return ShortStr::Heap(s.into());
        }
        let mut bytes = [0; Self::INLINE];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        // At most INLINE (22) bytes, so the length fits.
        let len = u8::try_from(s.len()).unwrap_or(u8::MAX);
        ShortStr::Inline { len, bytes }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        match self {
            ShortStr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).expect("copied whole from a str")
            }
            ShortStr::Heap(s) => s,
        }
    }
}

impl std::ops::Deref for ShortStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for ShortStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for ShortStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ShortStr {
    fn from(s: &str) -> Self {
        ShortStr::new(s)
    }
}

impl PartialEq<str> for ShortStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_seed_and_secrets_do_not_unless_seeded() {
        let (mut a, mut b) = (IdGen::new(42, None), IdGen::new(42, None));
        assert_eq!(a.next("ord"), b.next("ord"));
        assert_ne!(a.secret_bytes::<32>(), b.secret_bytes::<32>());
        let (mut a, mut b) = (IdGen::new(42, Some(7)), IdGen::new(1, Some(7)));
        assert_eq!(a.secret("sk"), b.secret("sk"));
        assert_eq!(a.secret("sk").len(), 3 + 32);
    }

    #[test]
    fn a_short_str_keeps_an_id_in_place_and_any_string_whole() {
        assert_eq!(std::mem::size_of::<ShortStr>(), 24);
        let id = IdGen::new(1, None).next("evt");
        assert!(matches!(ShortStr::new(&id), ShortStr::Inline { .. }));
        for s in [
            "",
            "é",
            &id,
            "0123456789012345678901",
            "01234567890123456789012",
        ] {
            assert_eq!(ShortStr::new(s).as_str(), s);
        }
        assert!(matches!(
            ShortStr::new("01234567890123456789012"),
            ShortStr::Heap(_)
        ));
    }
}
