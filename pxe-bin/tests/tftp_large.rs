//! A file larger than 4 GiB (a multi-GB ISO) through `pxe tftp` and `pxe get`:
//! 64-bit offsets, a `tsize` above `u32::MAX` (RFC 2349 allows any decimal size) and ~3.3
//! million 1468-byte blocks, so the 16-bit block number wraps about fifty times (RFC 7440
//! windows across every wrap). The file is sparse with random chunks placed at the offsets
//! where 32-bit arithmetic would break, and the download is streamed through `-o -` and
//! checked as it arrives, so the test needs neither 4 GiB of disk nor of memory.

mod support;

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};
use support::process::Guard;
use support::pxe::Pxe;
use support::tools::PXE;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// 4 GiB + 3 MiB + 123 bytes: the last block is short and past the 32-bit boundary.
const SIZE: u64 = 4 * GIB + 3 * MIB + 123;

/// Random 1 MiB chunks: the start, across 2 GiB (`i32` overflow), across 4 GiB (`u32`
/// overflow), and the tail.
const CHUNKS: [u64; 4] = [0, 2 * GIB - MIB / 2, 4 * GIB - MIB / 2, SIZE - MIB];

/// The sparse file's content, for checking what arrives.
struct Expected {
    chunks: Vec<(u64, Vec<u8>)>,
}

impl Expected {
    fn write(path: &std::path::Path) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let file = File::create(path).expect("create the large file");
        file.set_len(SIZE).expect("make it sparse");
        let chunks = CHUNKS
            .iter()
            .map(|&at| {
                let mut data = vec![0u8; usize::try_from(MIB).expect("1 MiB")];
                rng.fill_bytes(&mut data);
                file.write_all_at(&data, at).expect("write a chunk");
                (at, data)
            })
            .collect();
        Self { chunks }
    }

    /// Panics unless `got` is the file's content at `offset`.
    fn check(&self, offset: u64, got: &[u8]) {
        let end = offset + got.len() as u64;
        let mut at = offset;
        for (start, data) in &self.chunks {
            let stop = start + data.len() as u64;
            if stop <= at || *start >= end {
                continue;
            }
            let from = (*start).max(at);
            assert_zeros(&got[idx(at - offset)..idx(from - offset)], at);
            let to = stop.min(end);
            assert!(
                got[idx(from - offset)..idx(to - offset)]
                    == data[idx(from - start)..idx(to - start)],
                "bytes differ in the chunk at {start}, somewhere in {from}..{to}"
            );
            at = to;
        }
        assert_zeros(&got[idx(at - offset)..], at);
    }
}

fn idx(n: u64) -> usize {
    usize::try_from(n).expect("fits in usize")
}

/// Slice comparison (memcmp) against zeros: a byte loop is slow in a debug test build.
fn assert_zeros(bytes: &[u8], at: u64) {
    static ZEROS: [u8; 1 << 16] = [0; 1 << 16];
    for (i, piece) in bytes.chunks(ZEROS.len()).enumerate() {
        if piece != &ZEROS[..piece.len()] {
            let j = piece.iter().position(|&b| b != 0).unwrap_or(0);
            panic!(
                "non-zero byte at {} in a hole",
                at + (i * ZEROS.len() + j) as u64
            );
        }
    }
}

#[test]
#[should_panic(expected = "non-zero byte at 3145728 in a hole")]
fn the_check_sees_a_byte_in_a_hole() {
    let e = Expected {
        chunks: vec![(0, vec![1; 16])],
    };
    let mut got = vec![0u8; 4 * 1024 * 1024];
    got[..16].fill(1);
    got[3 * 1024 * 1024] = 7;
    e.check(0, &got);
}

#[test]
#[should_panic(expected = "bytes differ in the chunk at 100")]
fn the_check_sees_a_changed_chunk_byte() {
    let e = Expected {
        chunks: vec![(100, vec![1; 16])],
    };
    let mut got = vec![0u8; 200];
    got[100..116].fill(1);
    got[110] = 2;
    e.check(0, &got);
}

#[test]
fn file_over_4_gib_arrives_intact_with_tsize_and_windowsize() {
    let dir = tempfile::tempdir().expect("tempdir");
    let expected = Expected::write(&dir.path().join("huge.iso"));
    let server = Pxe::tftp(dir.path(), &[]);
    let started = Instant::now();
    // Killed by pid if the test fails before it exits.
    let mut client = Guard::new(
        "pxe get",
        Command::new(PXE)
            .args([
                "get",
                &server.url("huge.iso"),
                "-o",
                "-",
                "--blksize",
                "1468",
                "--windowsize",
                "64",
                "--tsize",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pxe get"),
        Duration::ZERO,
    );
    let mut stdout = client.take_stdout().expect("piped stdout");
    let mut buf = vec![0u8; 1 << 20];
    let mut received = 0u64;
    let limit = Duration::from_secs(600);
    loop {
        let n = stdout.read(&mut buf).expect("read the download");
        if n == 0 {
            break;
        }
        expected.check(received, &buf[..n]);
        received += n as u64;
        assert!(started.elapsed() < limit, "download slower than {limit:?}");
    }
    let mut err = String::new();
    client
        .take_stderr()
        .expect("piped stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    let status = client.into_output().status;
    assert!(
        status.success(),
        "pxe get failed: {err}\nserver:\n{}",
        server.log()
    );
    assert_eq!(received, SIZE, "length");
    assert!(err.contains(&format!("{SIZE} bytes in")), "summary: {err}");
    assert!(
        server.wait_log("result=ok", Duration::from_secs(5)),
        "server did not log the transfer as complete:\n{}",
        server.log()
    );
}
