//! The HMAC constructions and the constant-time comparison every scheme uses.

use hmac::digest::{Key, KeyInit};
use hmac::Hmac;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

pub(super) type HmacSha256 = Hmac<Sha256>;
pub(super) type HmacSha1 = Hmac<Sha1>;

/// HMAC key block for a 64-byte-block hash, exactly as RFC 2104 §2 derives it: keys longer than
/// the block are hashed first, shorter ones are zero-padded. HMAC over this block equals HMAC over
/// the original key, and building the MAC from a full block is infallible (no `Result` to unwrap).
fn key_block<D: Digest>(key: &[u8]) -> [u8; 64] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        let digest = D::digest(key);
        let n = digest.len().min(block.len());
        block[..n].copy_from_slice(&digest[..n]);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    block
}

pub(super) fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    let mut k = Key::<HmacSha256>::default();
    k.copy_from_slice(&key_block::<Sha256>(key));
    <HmacSha256 as KeyInit>::new(&k)
}

pub(super) fn hmac_sha1(key: &[u8]) -> HmacSha1 {
    let mut k = Key::<HmacSha1>::default();
    k.copy_from_slice(&key_block::<Sha1>(key));
    <HmacSha1 as KeyInit>::new(&k)
}

/// Constant-time "does any candidate equal `expected`"; every candidate is compared.
pub(super) fn matches_any<'a>(
    expected: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> bool {
    let mut hit = Choice::from(0);
    for candidate in candidates {
        hit |= expected.as_bytes().ct_eq(candidate.as_bytes());
    }
    hit.into()
}

#[cfg(test)]
mod tests {
    use hmac::Mac;

    use super::*;

    #[test]
    fn hmac_from_key_block_equals_hmac_from_any_length_key() {
        for len in [0usize, 1, 24, 63, 64, 65, 200] {
            let key = vec![0x5a_u8; len];
            let mut ours = hmac_sha256(&key);
            let mut theirs = <HmacSha256 as Mac>::new_from_slice(&key).unwrap();
            ours.update(b"body");
            theirs.update(b"body");
            assert_eq!(ours.finalize().into_bytes(), theirs.finalize().into_bytes());
            let mut ours = hmac_sha1(&key);
            let mut theirs = <HmacSha1 as Mac>::new_from_slice(&key).unwrap();
            ours.update(b"body");
            theirs.update(b"body");
            assert_eq!(ours.finalize().into_bytes(), theirs.finalize().into_bytes());
        }
    }
}
