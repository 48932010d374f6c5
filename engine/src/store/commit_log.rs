//! The redb backend's write-ahead log: a commit is durable once its mutations are
//! appended here and fsynced — one sequential write per group of commits instead of
//! redb's scattered B-tree pages — and reaches redb later, in big batches.
//!
//! A record is `[len u32][crc32 u32][seq u64][mutations]` (little-endian). Reading
//! stops at the first record that is short or fails its checksum: a write torn by a
//! crash was never acknowledged.
//!
//! The log is two files, written in turn, so commits go on while the records of the
//! other one are flushed into redb: when a flush starts, appends move to the other
//! file; when it ends, the flushed file is rewritten from its start. redb stores
//! the last sequence number it holds, and a replay applies only the records past
//! it, in sequence order from both files — so nothing is applied twice (atomic adds
//! are not idempotent), whichever step a crash interrupted.
//!
//! Files are overwritten in place and never shrink; they start as 4 MiB of zeros and
//! grow a mebibyte of zeros at a time: an fsync then only writes data, where one
//! after an append must also allocate blocks and change the file's size (measured
//! here: 70 µs instead of 120 µs for an 800-byte record, 115 µs instead of 167 µs for
//! 31 kB). So a file holds stale records past the fresh ones; reading stops at the
//! first record whose sequence number does not rise.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::StoreError;
use super::backend::{KeyRange, Mutation};

/// Files are written to this length when opened (a few flushes' worth of records)…
const INITIAL_LEN: u64 = 4 << 20;
/// …and grow by this much at a time past it.
const GROWTH: u64 = 1 << 20;

pub struct CommitLog {
    files: [LogFile; 2],
    /// The file appends go to.
    current: usize,
}

struct LogFile {
    file: File,
    /// Where the next record goes: past the last fresh one.
    end: u64,
    /// The file's length, all of it written (zeros past the records).
    len: u64,
}

/// A record read back from the log.
pub struct Record {
    pub seq: u64,
    pub mutations: Vec<Mutation>,
}

/// The log's two files beside the database at `path`.
pub fn file_paths(path: &Path) -> [PathBuf; 2] {
    [path.with_extension("redb-log"), path.with_extension("redb-log.1")]
}

impl CommitLog {
    /// Opens the log beside the database at `path`; answers it with the records it
    /// holds, in sequence order (stale ones too: the caller skips what redb holds).
    pub fn open(path: &Path) -> Result<(CommitLog, Vec<Record>), StoreError> {
        let [first, second] = file_paths(path);
        let (first, mut records) = LogFile::open(&first)?;
        let (second, more) = LogFile::open(&second)?;
        records.extend(more);
        records.sort_by_key(|record| record.seq);
        Ok((CommitLog { files: [first, second], current: 0 }, records))
    }

    /// Appends `records` (made by `encode_record`), durably: one write, one fsync.
    pub fn append(&mut self, records: &[u8]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        self.files[self.current].write_durably(records)
    }

    /// Sends the next appends to the other file (rewound by the last flush), so the
    /// records so far can be flushed and then dropped with `clear_previous`.
    pub fn switch_files(&mut self) {
        self.current = 1 - self.current;
    }

    /// Rewinds the file appends went to before the last switch: redb holds all of it.
    pub fn clear_previous(&mut self) {
        self.files[1 - self.current].end = 0;
    }

    /// Rewinds both files: redb holds every record.
    pub fn clear(&mut self) {
        for file in &mut self.files {
            file.end = 0;
        }
    }
}

impl LogFile {
    /// Opens one of the log's files and reads its records up to the first torn,
    /// corrupt or stale one; the next record overwrites that.
    fn open(path: &Path) -> Result<(LogFile, Vec<Record>), StoreError> {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(StoreError::backend)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(StoreError::backend)?;
        let (records, end) = decode_records(&bytes);
        let mut log_file = LogFile { file, end: end as u64, len: bytes.len() as u64 };
        if log_file.len < INITIAL_LEN {
            log_file.zero_fill(INITIAL_LEN)?;
            log_file.file.sync_data().map_err(StoreError::backend)?;
        }
        Ok((log_file, records))
    }

    /// Writes zeros from the file's end up to `len`.
    fn zero_fill(&mut self, len: u64) -> Result<(), StoreError> {
        let zeros = vec![0; (len - self.len) as usize];
        self.file.write_all_at(&zeros, self.len).map_err(StoreError::backend)?;
        self.len = len;
        Ok(())
    }

    /// Writes `record` at the end of the fresh records, growing the file first if
    /// it must, and syncs.
    fn write_durably(&mut self, record: &[u8]) -> Result<(), StoreError> {
        let end = self.end + record.len() as u64;
        self.file.write_all_at(record, self.end).map_err(StoreError::backend)?;
        if end > self.len {
            self.len = end;
            self.zero_fill(end.next_multiple_of(GROWTH))?;
        }
        self.file.sync_data().map_err(StoreError::backend)?;
        self.end = end;
        Ok(())
    }
}

/// Appends to `out` one record of sequence number `seq` holding `mutations`.
pub fn encode_record(seq: u64, mutations: &[Mutation], out: &mut Vec<u8>) {
    out.reserve(16 + mutations.iter().map(max_encoded_len).sum::<usize>());
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&seq.to_le_bytes());
    for mutation in mutations {
        encode(mutation, out);
    }
    let body = start + 8;
    let body_len = (out.len() - body) as u32;
    let crc = crc32fast::hash(&out[body..]);
    out[start..start + 4].copy_from_slice(&body_len.to_le_bytes());
    out[start + 4..body].copy_from_slice(&crc.to_le_bytes());
}

/// At least what `encode` writes for `mutation`: a tag and two lengths besides the
/// bytes, so a record is written without growing its buffer.
fn max_encoded_len(mutation: &Mutation) -> usize {
    9 + match mutation {
        Mutation::Set { key, value } => key.len() + value.len(),
        Mutation::Clear { key } => key.len(),
        Mutation::ClearRange(range) => range.begin.len() + range.end.len(),
        Mutation::Add { key, .. } => key.len() + 8,
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

/// The whole records at the start of `bytes` whose sequence numbers rise, and how
/// many bytes they take.
fn decode_records(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut log = Reader(bytes);
    let mut records = Vec::new();
    let mut valid = 0;
    while let Some(record) = decode_record(&mut log) {
        if records.last().is_some_and(|last: &Record| last.seq >= record.seq) {
            break;
        }
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

    fn ok<T, E>(result: Result<T, E>) -> T {
        result.unwrap_or_else(|_| std::process::abort())
    }

    /// Appends one record per `seq`, all in one write.
    fn append(log: &mut CommitLog, seqs: std::ops::RangeInclusive<u64>, mutations: &[Mutation]) {
        let mut records = Vec::new();
        for seq in seqs {
            encode_record(seq, mutations, &mut records);
        }
        ok(log.append(&records));
    }

    fn seqs(path: &Path) -> Vec<u64> {
        ok(CommitLog::open(path)).1.iter().map(|record| record.seq).collect()
    }

    #[test]
    fn records_read_back_up_to_a_torn_one() {
        let dir = ok(tempfile::tempdir());
        let path = dir.path().join("store.redb");
        let mutations = vec![
            Mutation::Set { key: b"k".to_vec(), value: b"v".to_vec() },
            Mutation::Clear { key: b"gone".to_vec() },
            Mutation::ClearRange(KeyRange { begin: b"a".to_vec(), end: b"c".to_vec() }),
            Mutation::Add { key: b"n".to_vec(), delta: -3 },
        ];
        let torn_at = {
            let (mut log, records) = ok(CommitLog::open(&path));
            assert!(records.is_empty());
            append(&mut log, 1..=1, &mutations);
            append(&mut log, 2..=2, &mutations[..1]);
            let torn_at = log.files[0].end + 20;
            append(&mut log, 3..=3, &mutations);
            torn_at
        };
        // A crash mid-write leaves the third record in part.
        let [first, _] = file_paths(&path);
        let file = ok(OpenOptions::new().write(true).open(&first));
        ok(file.write_all_at(&[0xff; 4], torn_at));
        let (mut log, records) = ok(CommitLog::open(&path));
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(records[0].mutations, mutations);
        // The next record takes the torn one's place; one past the file's growth step fits.
        let big = [Mutation::Set { key: b"big".to_vec(), value: vec![7; 3 << 20] }];
        append(&mut log, 3..=3, &big);
        drop(log);
        let (mut log, records) = ok(CommitLog::open(&path));
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(records[2].mutations, big);
        // Rewound, the file is written over from its start; what is left of the
        // older records past the new one is stale and not read.
        log.clear();
        append(&mut log, 4..=4, &mutations);
        assert_eq!(seqs(&path), vec![4]);
    }

    /// While one file's records are flushed, appends go to the other; a reopened log
    /// answers the records of both in sequence order, and rewinding the flushed
    /// file drops its records once new ones are written over them.
    #[test]
    fn switching_files_keeps_every_record_in_order() {
        let dir = ok(tempfile::tempdir());
        let path = dir.path().join("store.redb");
        let set = [Mutation::Set { key: b"k".to_vec(), value: b"v".to_vec() }];
        let (mut log, _) = ok(CommitLog::open(&path));
        append(&mut log, 1..=2, &set);
        log.switch_files();
        append(&mut log, 3..=3, &set);
        assert_eq!(seqs(&path), vec![1, 2, 3]);
        log.clear_previous();
        log.switch_files();
        append(&mut log, 4..=4, &set);
        assert_eq!(seqs(&path), vec![3, 4]);
    }
}
