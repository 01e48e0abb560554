//! Test files: seeded random content with its SHA-256, digests, plain text files.

use std::path::Path;

use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

/// Writes `len` pseudo-random bytes (seeded) to `path`; returns their SHA-256 in hex.
pub fn random_file(path: &Path, len: usize, seed: u64) -> String {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut data = vec![0u8; len];
    rng.fill_bytes(&mut data);
    std::fs::write(path, &data).expect("write test file");
    hex::encode(Sha256::digest(&data))
}

/// SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> String {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    hex::encode(Sha256::digest(&data))
}

/// SHA-256 of `data`, in hex.
pub fn sha256_bytes(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Writes `text` to `path`; panics naming the file when it cannot.
pub fn write_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
