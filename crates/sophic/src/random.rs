//! Randomness for idempotency keys and retry jitter, from the operating system's source
//! (`getrandom`): no generator state to seed or share.

/// `N` random bytes.
///
/// # Panics
///
/// If the operating system cannot provide randomness, which on the platforms the SDK
/// supports only happens when the process is sandboxed away from it.
pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes
}

/// A random number in `0..=max` (with a bias under 2^-64 · max, irrelevant for jitter).
pub(crate) fn up_to(max: u64) -> u64 {
    let value = u64::from_le_bytes(bytes());
    match max.checked_add(1) {
        Some(bound) => value % bound,
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_to_stays_in_range_and_varies() {
        let draws: Vec<u64> = (0..200).map(|_| up_to(9)).collect();
        assert!(draws.iter().all(|d| *d <= 9));
        assert!(
            draws.iter().any(|d| *d != draws[0]),
            "200 draws were all {}",
            draws[0]
        );
        assert_eq!(up_to(0), 0);
        let _ = up_to(u64::MAX);
    }

    #[test]
    fn bytes_differ_between_calls() {
        assert_ne!(bytes::<16>(), bytes::<16>());
    }
}
