//! Decoding and checking a snapshot.

use bytes::Bytes;

use super::{
    BLOCK_HEADER_LEN, HEADER_LEN, PendingCall, Record, SNAPSHOT_MAGIC, SNAPSHOT_VERSION,
    SnapshotError, SnapshotHeader, SnapshotProblem, TRAILER_LEN, TRAILER_MAGIC, block_crc, kind,
};
use crate::ModuleRecord;
use crate::codec::{Cursor, FrameError};

/// A snapshot whose header and trailer are sound; its records are checked
/// block by block as [`SnapshotReader::records`] reaches them.
#[derive(Clone, Debug)]
pub struct SnapshotReader {
    bytes: Bytes,
    header: SnapshotHeader,
    blocks: u32,
    records: u64,
}

impl SnapshotReader {
    /// Checks the header and the trailer of `bytes`: a snapshot whose
    /// trailer is missing or damaged is incomplete, and refused.
    pub fn new(bytes: Bytes) -> Result<Self, SnapshotError> {
        use SnapshotProblem::*;
        let err = |at, problem| Err(SnapshotError::new(at, None, problem));
        if bytes.len() < HEADER_LEN + TRAILER_LEN {
            return err(
                0,
                Incomplete(format!(
                    "{} bytes, shorter than a header and a trailer",
                    bytes.len()
                )),
            );
        }
        let head = &bytes[..HEADER_LEN];
        if head[..4] != SNAPSHOT_MAGIC {
            return err(0, BadHeader(format!("magic {:02x?}", &head[..4])));
        }
        let (stored, found) = (le32(&head[32..36]), crc32fast::hash(&head[..32]));
        if stored != found {
            let problem = Checksum {
                expected: stored,
                found,
            };
            return err(0, BadHeader(problem.to_string()));
        }
        if !(1..=SNAPSHOT_VERSION).contains(&head[4]) {
            return err(4, UnsupportedVersion(head[4]));
        }
        if head[5..8] != [0, 0, 0] {
            return err(5, BadHeader(format!("unknown flags {:02x?}", &head[5..8])));
        }
        let header = SnapshotHeader {
            offset: le64(&head[8..16]),
            timestamp: le64(&head[16..24]),
            clock: le64(&head[24..32]),
        };
        let at = bytes.len() - TRAILER_LEN;
        let tail = &bytes[at..];
        if tail[..4] != TRAILER_MAGIC || le32(&tail[24..28]) != crc32fast::hash(&tail[..24]) {
            return err(at, Incomplete("no sound trailer at its end".into()));
        }
        if le64(&tail[16..24]) != header.offset {
            return err(
                at,
                Malformed(format!(
                    "trailer says offset {}, header {}",
                    le64(&tail[16..24]),
                    header.offset
                )),
            );
        }
        Ok(Self {
            header,
            blocks: le32(&tail[4..8]),
            records: le64(&tail[8..16]),
            bytes,
        })
    }

    /// What the header says.
    pub fn header(&self) -> SnapshotHeader {
        self.header
    }

    /// The snapshot's size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the snapshot holds no record.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Records the trailer says the snapshot holds.
    pub fn record_count(&self) -> u64 {
        self.records
    }

    /// The records, in order, each block checked before its first record
    /// is decoded. The first error ends the iteration.
    pub fn records(&self) -> Records<'_> {
        Records {
            snapshot: self,
            pos: HEADER_LEN,
            block_end: HEADER_LEN,
            block: None,
            records: 0,
            rows_due: 0,
            done: false,
        }
    }

    /// Reads every record: `Ok` with the record count when the whole
    /// snapshot is sound.
    pub fn verify(&self) -> Result<u64, SnapshotError> {
        let mut n = 0;
        for r in self.records() {
            r?;
            n += 1;
        }
        Ok(n)
    }
}

/// The records of a [`SnapshotReader`].
#[derive(Debug)]
pub struct Records<'a> {
    snapshot: &'a SnapshotReader,
    pos: usize,
    block_end: usize,
    /// Index of the block being read.
    block: Option<u32>,
    records: u64,
    rows_due: u64,
    done: bool,
}

impl Records<'_> {
    fn fail(
        &mut self,
        at: usize,
        problem: SnapshotProblem,
    ) -> Option<Result<Record, SnapshotError>> {
        self.done = true;
        Some(Err(SnapshotError::new(at, self.block, problem)))
    }

    /// Checks the next block and moves into it.
    fn enter_block(&mut self) -> Result<(), SnapshotProblem> {
        let bytes = &self.snapshot.bytes;
        let end = bytes.len() - TRAILER_LEN;
        let index = self.block.map_or(0, |b| b + 1);
        self.block = Some(index);
        if end - self.pos < BLOCK_HEADER_LEN {
            return Err(SnapshotProblem::Malformed(format!(
                "{} stray bytes before the trailer",
                end - self.pos
            )));
        }
        let len = le32(&bytes[self.pos..]) as usize;
        let expected = le32(&bytes[self.pos + 4..]);
        let payload = self.pos + BLOCK_HEADER_LEN;
        if len == 0 || len > end - payload {
            return Err(SnapshotProblem::Malformed(format!(
                "block of {len} bytes, {} left before the trailer",
                end - payload
            )));
        }
        let found = block_crc(index, &bytes[payload..payload + len]);
        if found != expected {
            return Err(SnapshotProblem::Checksum { expected, found });
        }
        self.pos = payload;
        self.block_end = payload + len;
        Ok(())
    }

    /// The end of the records: the counts must match the trailer's.
    fn finish(&mut self) -> Option<Result<Record, SnapshotError>> {
        let s = self.snapshot;
        let blocks = self.block.map_or(0, |b| b + 1);
        let problem = if self.rows_due != 0 {
            format!("the last table lacks {} rows", self.rows_due)
        } else if blocks != s.blocks || self.records != s.records {
            format!(
                "{blocks} blocks and {} records, the trailer says {} and {}",
                self.records, s.blocks, s.records
            )
        } else {
            self.done = true;
            return None;
        };
        self.fail(self.pos, SnapshotProblem::Malformed(problem))
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Record, SnapshotError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.pos == self.block_end {
            if self.pos == self.snapshot.bytes.len() - TRAILER_LEN {
                return self.finish();
            }
            let at = self.pos;
            if let Err(problem) = self.enter_block() {
                return self.fail(at, problem);
            }
        }
        let at = self.pos;
        let mut cursor = Cursor::new(&self.snapshot.bytes, self.pos, self.block_end);
        let record = match decode_record(&mut cursor) {
            Ok(r) => r,
            Err(e) => return self.fail(at, SnapshotProblem::Malformed(e.to_string())),
        };
        self.pos += cursor.consumed();
        self.records += 1;
        let order = match (&record, self.rows_due) {
            (Record::Row(_), 0) => Some("a row where no table's rows are due".to_owned()),
            (Record::Row(_), _) => {
                self.rows_due -= 1;
                None
            }
            (_, 0) => None,
            (_, n) => Some(format!("a table lacks {n} rows")),
        };
        if let Some(problem) = order {
            return self.fail(at, SnapshotProblem::Malformed(problem));
        }
        if let Record::Table { rows, .. } = record {
            self.rows_due = rows;
        }
        Some(Ok(record))
    }
}

fn decode_record(c: &mut Cursor<'_>) -> Result<Record, FrameError> {
    Ok(match c.u8()? {
        kind::MODULE => {
            let module_id = c.u32()?;
            let schema_hash = c.u64()?;
            let len = c.u32()? as usize;
            let record = ModuleRecord::decode(&c.bytes(len)?)?;
            Record::Module {
                module_id,
                schema_hash,
                record,
            }
        }
        kind::TABLE => Record::Table {
            module_id: c.u32()?,
            table_id: c.u32()?,
            schema_hash: c.u64()?,
            next_auto_inc: u128::from_le_bytes(c.array()?),
            rows: c.u64()?,
        },
        kind::ROW => {
            let len = c.u32()? as usize;
            Record::Row(c.bytes(len)?)
        }
        kind::PENDING => {
            let cause = c.u64()?;
            let depth = c.u32()?;
            let module = string(c, "pending call module")?;
            let reducer = string(c, "pending call reducer")?;
            let len = c.u32()? as usize;
            let args = c.bytes(len)?;
            let steps = c.u32()?;
            let path = (0..steps)
                .map(|_| string(c, "pending call path"))
                .collect::<Result<_, _>>()?;
            Record::Pending(PendingCall {
                cause,
                module,
                reducer,
                args,
                depth,
                path,
            })
        }
        kind::REQUEST => Record::Request {
            id: string(c, "request id")?,
            offset: c.u64()?,
            timestamp: c.u64()?,
            fingerprint: c.u64()?,
        },
        kind::TIMER => {
            let module_id = c.u32()?;
            let table_id = c.u32()?;
            let len = c.u32()? as usize;
            Record::Timer {
                module_id,
                table_id,
                key: c.bytes(len)?,
                due: c.u64()?,
            }
        }
        k => {
            return Err(FrameError::Malformed {
                reason: format!("unknown record kind {k}"),
            });
        }
    })
}

fn string(c: &mut Cursor<'_>, what: &str) -> Result<String, FrameError> {
    let len = c.u32()? as usize;
    c.utf8(len, what)
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().expect("four bytes"))
}

fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("eight bytes"))
}
