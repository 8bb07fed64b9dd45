//! Content-defined chunks (`snapshots::chunks`): a stream's chunks are the
//! stream, each within wharf's sizes and named by its bytes' SHA-256, and a
//! change in the middle (in place or an insertion) makes new chunks only
//! around it.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use wharf::snapshots::chunks::{AVG_SIZE, Chunk, MAX_SIZE, MIN_SIZE, chunks};

fn random(len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    getrandom::fill(&mut out).expect("system randomness");
    out
}

fn all(data: &[u8]) -> Vec<Chunk> {
    chunks(data).collect::<std::io::Result<_>>().unwrap()
}

fn new_bytes(before: &[Chunk], after: &[Chunk]) -> usize {
    let known: HashSet<&str> = before.iter().map(|c| c.sha256.as_str()).collect();
    after.iter().filter(|c| !known.contains(c.sha256.as_str())).map(|c| c.data.len()).sum()
}

#[test]
fn a_change_in_the_middle_makes_new_chunks_only_around_it() {
    let size = 48 * 1024 * 1024;
    let first = random(size);
    let listed = all(&first);
    // The chunks are the stream, in order, each named by its bytes.
    let joined: Vec<u8> = listed.iter().flat_map(|c| c.data.iter().copied()).collect();
    assert!(joined == first, "the chunks put together are the stream");
    let mut offset = 0;
    for (i, c) in listed.iter().enumerate() {
        assert_eq!(c.offset, offset);
        offset += c.data.len() as u64;
        assert_eq!(c.sha256, format!("{:x}", Sha256::digest(&c.data)));
        assert!(c.data.len() <= MAX_SIZE);
        assert!(c.data.len() >= MIN_SIZE || i == listed.len() - 1, "chunk {i}: {} bytes", c.data.len());
    }
    let average = size / listed.len();
    assert!((AVG_SIZE / 2..AVG_SIZE * 2).contains(&average), "{} chunks, {average} bytes each", listed.len());

    // 164 KiB overwritten in the middle: the chunks around it are new, no others
    // (at most the change and three chunks: the one it starts in, the one it
    // ends in, and the next, where the cut points are found again).
    let change = 164 * 1024;
    let around = change + 3 * MAX_SIZE;
    let mut overwritten = first.clone();
    overwritten[size / 2..size / 2 + change].copy_from_slice(&random(change));
    let moved = new_bytes(&listed, &all(&overwritten));
    assert!(moved >= change && moved <= around, "{moved} bytes of {size} are new");
    // 164 KiB inserted: the chunks after it are found again (fixed blocks would all shift).
    let mut inserted = first[..size / 3].to_vec();
    inserted.extend_from_slice(&random(change));
    inserted.extend_from_slice(&first[size / 3..]);
    let moved = new_bytes(&listed, &all(&inserted));
    assert!(moved >= change && moved <= around, "{moved} bytes of {} are new", inserted.len());
    // The same stream again: nothing is new.
    assert_eq!(new_bytes(&listed, &all(&first)), 0);
}
