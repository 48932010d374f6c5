//! The redb backend's write-ahead log: a commit is durable once its mutations are
//! appended here and fsynced — one sequential write per group of commits instead of
//! redb's scattered B-tree pages — and reaches redb later, in big batches.
//!
//! A record is `[len u32][crc32 u32][seq u64][mutations]` (little-endian). Reading
//! stops at the first record that is short or fails its checksum: a write torn by a
//! crash was never acknowledged. The log is emptied after each flush into redb, which
//! stores the last sequence number it holds, so a replay after a crash between the
//! two applies nothing twice (atomic adds are not idempotent).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use super::StoreError;
use super::backend::{KeyRange, Mutation};

pub struct CommitLog {
    file: File,
    next_seq: u64,
    /// Reused between appends.
    buffer: Vec<u8>,
}

/// A record read back from the log.
pub struct Record {
    pub seq: u64,
    pub mutations: Vec<Mutation>,
}

impl CommitLog {
    /// Opens the log beside the database; answers it with the records it holds.
    pub fn open(path: &Path) -> Result<(CommitLog, Vec<Record>), StoreError> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(StoreError::backend)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(StoreError::backend)?;
        let (records, valid) = decode_records(&bytes);
        if valid < bytes.len() {
            // A torn tail: new records must follow the last whole one.
            file.set_len(valid as u64).map_err(StoreError::backend)?;
        }
        let next_seq = records.last().map_or(1, |record| record.seq + 1);
        Ok((CommitLog { file, next_seq, buffer: Vec::new() }, records))
    }

    /// Makes the next records follow `seq` (the last one redb holds).
    pub fn continue_after(&mut self, seq: u64) {
        self.next_seq = self.next_seq.max(seq + 1);
    }

    /// Appends one record holding `mutations`, durably; answers its sequence number.
    pub fn append<'a>(&mut self, mutations: impl Iterator<Item = &'a Mutation>) -> Result<u64, StoreError> {
        let seq = self.next_seq;
        self.buffer.clear();
        self.buffer.extend_from_slice(&[0; 8]);
        self.buffer.extend_from_slice(&seq.to_le_bytes());
        for mutation in mutations {
            encode(mutation, &mut self.buffer);
        }
        let body_len = (self.buffer.len() - 8) as u32;
        let crc = crc32fast::hash(&self.buffer[8..]);
        self.buffer[..4].copy_from_slice(&body_len.to_le_bytes());
        self.buffer[4..8].copy_from_slice(&crc.to_le_bytes());
        self.file.write_all(&self.buffer).map_err(StoreError::backend)?;
        self.file.sync_data().map_err(StoreError::backend)?;
        self.next_seq += 1;
        Ok(seq)
    }

    /// Forgets every record (redb holds them all now). Not synced: records that
    /// reappear after a crash are at or below redb's marker and are skipped.
    pub fn clear(&mut self) -> Result<(), StoreError> {
        self.file.set_len(0).map_err(StoreError::backend)
    }
}

fn put_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn encode(mutation: &Mutation, out: &mut Vec<u8>) {
    match mutation {
        Mutation::Set { key, value } => {
            out.push(1);
            put_bytes(key, out);
            put_bytes(value, out);
        }
        Mutation::Clear { key } => {
            out.push(2);
            put_bytes(key, out);
        }
        Mutation::ClearRange(range) => {
            out.push(3);
            put_bytes(&range.begin, out);
            put_bytes(&range.end, out);
        }
        Mutation::Add { key, delta } => {
            out.push(4);
            put_bytes(key, out);
            out.extend_from_slice(&delta.to_le_bytes());
        }
    }
}

/// Reads a record's fields in order; `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = self.u32()? as usize;
        Some(self.take(len)?.to_vec())
    }

    fn mutation(&mut self) -> Option<Mutation> {
        Some(match self.take(1)?[0] {
            1 => Mutation::Set { key: self.bytes()?, value: self.bytes()? },
            2 => Mutation::Clear { key: self.bytes()? },
            3 => Mutation::ClearRange(KeyRange { begin: self.bytes()?, end: self.bytes()? }),
            4 => Mutation::Add { key: self.bytes()?, delta: self.u64()? as i64 },
            _ => return None,
        })
    }
}

/// The whole records at the start of `bytes`, and how many bytes they take.
fn decode_records(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut log = Reader(bytes);
    let mut records = Vec::new();
    let mut valid = 0;
    while let Some(record) = decode_record(&mut log) {
        records.push(record);
        valid = bytes.len() - log.0.len();
    }
    (records, valid)
}

fn decode_record(log: &mut Reader<'_>) -> Option<Record> {
    let (len, crc) = (log.u32()?, log.u32()?);
    let body = log.take(len as usize)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let mut body = Reader(body);
    let seq = body.u64()?;
    let mut mutations = Vec::new();
    while !body.0.is_empty() {
        mutations.push(body.mutation()?);
    }
    Some(Record { seq, mutations })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_up_to_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap_or_else(|_| std::process::abort());
        let path = dir.path().join("log");
        let mutations = vec![
            Mutation::Set { key: b"k".to_vec(), value: b"v".to_vec() },
            Mutation::Clear { key: b"gone".to_vec() },
            Mutation::ClearRange(KeyRange { begin: b"a".to_vec(), end: b"c".to_vec() }),
            Mutation::Add { key: b"n".to_vec(), delta: -3 },
        ];
        {
            let (mut log, records) = CommitLog::open(&path).unwrap_or_else(|_| std::process::abort());
            assert!(records.is_empty());
            assert_eq!(log.append(mutations.iter()).ok(), Some(1));
            assert_eq!(log.append(mutations[..1].iter()).ok(), Some(2));
        }
        // A crash mid-append leaves a partial record behind.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap_or_else(|_| std::process::abort());
        file.write_all(&[40, 0, 0, 0, 1, 2]).unwrap_or_else(|_| std::process::abort());
        let (mut log, records) = CommitLog::open(&path).unwrap_or_else(|_| std::process::abort());
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(records[0].mutations, mutations);
        assert_eq!(log.append(mutations.iter()).ok(), Some(3));
        drop(log);
        let (mut log, records) = CommitLog::open(&path).unwrap_or_else(|_| std::process::abort());
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        log.clear().unwrap_or_else(|_| std::process::abort());
        let (_, records) = CommitLog::open(&path).unwrap_or_else(|_| std::process::abort());
        assert!(records.is_empty());
    }
}
