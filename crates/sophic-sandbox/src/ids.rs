//! Id generation: a type prefix and 14 characters from a seeded generator, so a sandbox
//! started with the same seed hands out the same ids in the same order.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Makes prefixed ids (`ord_…`, `acc_…`).
#[derive(Debug)]
pub struct IdGen {
    rng: StdRng,
}

impl IdGen {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A new id with `prefix` (`"ord"` gives `ord_…`).
    pub fn next(&mut self, prefix: &str) -> String {
        let body: String = (0..14)
            .map(|_| ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        format!("{prefix}_{body}")
    }

    /// Random bytes (webhook secrets, token signatures).
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        self.rng.fill(&mut out[..]);
        out
    }
}
