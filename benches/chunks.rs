//! Chunk sizes for the chunked snapshot format, measured: 256 MiB of
//! incompressible data (the named-volume case), changed three ways —
//! 164 KiB overwritten in place (a table's pages rewritten), 164 KiB inserted
//! (a file grown in the middle of a tar), and ten 16 KiB writes scattered
//! (a database's random updates) — and for each average size the bytes the
//! next backup would move (its chunks not in the first one's set), the
//! number of objects (S3 bills a PUT per object), and the chunking speed
//! next to SHA-256 alone over the same bytes (the floor: a backup hashes
//! its stream anyway).
//!
//! Run with `cargo bench --bench chunks`.

use std::collections::HashSet;
use std::time::Instant;

use sha2::{Digest, Sha256};
use wharf::snapshots::chunks::chunks_sized;

const SIZE: usize = 256 * 1024 * 1024;
const CHANGE: usize = 164 * 1024;

/// Incompressible bytes.
fn random(len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    getrandom::fill(&mut out).expect("system randomness");
    out
}

fn set(data: &[u8], sizes: (usize, usize, usize)) -> (HashSet<String>, Vec<(String, usize)>) {
    let list: Vec<(String, usize)> =
        chunks_sized(data, sizes).map(|c| c.unwrap()).map(|c| (c.sha256, c.data.len())).collect();
    (list.iter().map(|(s, _)| s.clone()).collect(), list)
}

fn main() {
    let first = random(SIZE);
    let mut overwritten = first.clone();
    overwritten[SIZE / 2..SIZE / 2 + CHANGE].copy_from_slice(&random(CHANGE));
    let mut inserted = first[..SIZE / 3].to_vec();
    inserted.extend_from_slice(&random(CHANGE));
    inserted.extend_from_slice(&first[SIZE / 3..]);
    let mut scattered = first.clone();
    for i in 0..10 {
        let at = (i * 2 + 1) * SIZE / 21;
        scattered[at..at + 16 * 1024].copy_from_slice(&random(16 * 1024));
    }

    let started = Instant::now();
    let floor = Sha256::digest(&first);
    let sha_alone = started.elapsed();
    std::hint::black_box(floor);
    println!(
        "256 MiB of incompressible bytes; SHA-256 alone: {:.0} MB/s",
        SIZE as f64 / 1e6 / sha_alone.as_secs_f64()
    );
    println!();
    println!(
        "| average (min–max) | chunks | chunking + SHA-256 | vs SHA-256 alone | moved after 164 KiB overwritten | 164 KiB inserted | 10 × 16 KiB scattered |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    const K: usize = 1024;
    let candidates = [
        (64 * K, 256 * K, 1024 * K),
        (128 * K, 512 * K, 2048 * K),
        // Never under 256 KiB (S3's infrequent-access classes bill 128 KiB an object at least).
        (256 * K, 512 * K, 2048 * K),
        (256 * K, 1024 * K, 4096 * K),
        (512 * K, 2048 * K, 8192 * K),
        (1024 * K, 4096 * K, 16384 * K),
    ];
    for sizes in candidates {
        let avg = sizes.1;
        let started = Instant::now();
        let (known, list) = set(&first, sizes);
        let took = started.elapsed();
        let moved = |changed: &[u8]| {
            let (_, list) = set(changed, sizes);
            let bytes: usize = list.iter().filter(|(s, _)| !known.contains(s)).map(|(_, n)| n).sum();
            format!(
                "{:.2} MiB ({:.2} %)",
                bytes as f64 / 1048576.0,
                bytes as f64 * 100.0 / changed.len() as f64
            )
        };
        println!(
            "| {} KiB ({}–{} KiB) | {} | {:.0} MB/s | {:.2}× | {} | {} | {} |",
            avg / 1024,
            sizes.0 / 1024,
            sizes.2 / 1024,
            list.len(),
            SIZE as f64 / 1e6 / took.as_secs_f64(),
            took.as_secs_f64() / sha_alone.as_secs_f64(),
            moved(&overwritten),
            moved(&inserted),
            moved(&scattered),
        );
    }
}
