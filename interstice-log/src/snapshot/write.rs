//! Encoding a snapshot.

use bytes::Bytes;

use super::{
    BLOCK_HEADER_LEN, BLOCK_TARGET, PendingCall, Record, SNAPSHOT_MAGIC, SNAPSHOT_VERSION,
    SnapshotHeader, TRAILER_MAGIC, block_crc, kind,
};
use crate::ModuleRecord;

/// Builds a snapshot in memory, record by record, closing a block (and
/// writing its checksum) whenever it reaches [`BLOCK_TARGET`] bytes.
///
/// The caller writes records in the order [`Record`] describes: the writer
/// checks only that each table is followed by exactly as many rows as it
/// announced (a mistake there panics: it is a bug in the caller, not bad
/// input).
#[derive(Debug)]
pub struct SnapshotWriter {
    out: Vec<u8>,
    /// Where the open block's header is, if a block is open.
    block: Option<usize>,
    blocks: u32,
    records: u64,
    offset: u64,
    /// Rows the last table announced and that are not written yet.
    rows_due: u64,
}

impl SnapshotWriter {
    /// A snapshot of the state as of `header.offset`.
    pub fn new(header: SnapshotHeader) -> Self {
        let mut out = Vec::with_capacity(BLOCK_TARGET + 64);
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.extend_from_slice(&[SNAPSHOT_VERSION, 0, 0, 0]);
        out.extend_from_slice(&header.offset.to_le_bytes());
        out.extend_from_slice(&header.timestamp.to_le_bytes());
        out.extend_from_slice(&header.clock.to_le_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Self {
            out,
            block: None,
            blocks: 0,
            records: 0,
            offset: header.offset,
            rows_due: 0,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing but the header is written.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Appends any record.
    pub fn push(&mut self, record: &Record) {
        match record {
            Record::Module {
                module_id,
                schema_hash,
                record,
            } => self.module(*module_id, *schema_hash, record),
            Record::Table {
                module_id,
                table_id,
                schema_hash,
                next_auto_inc,
                rows,
            } => self.table(*module_id, *table_id, *schema_hash, *next_auto_inc, *rows),
            Record::Row(row) => self.row(row),
            Record::Pending(call) => self.pending(call),
            Record::Request {
                id,
                offset,
                timestamp,
                fingerprint,
            } => self.request(id, *offset, *timestamp, *fingerprint),
            Record::Timer {
                module_id,
                table_id,
                key,
                due,
            } => self.timer(*module_id, *table_id, key, *due),
        }
    }

    /// A module record.
    pub fn module(&mut self, module_id: u32, schema_hash: u64, record: &ModuleRecord) {
        self.start(kind::MODULE);
        self.put(&module_id.to_le_bytes());
        self.put(&schema_hash.to_le_bytes());
        self.bytes(&record.encode());
        self.end();
    }

    /// A table, to be followed by exactly `rows` [`SnapshotWriter::row`]s.
    pub fn table(
        &mut self,
        module_id: u32,
        table_id: u32,
        schema_hash: u64,
        next_auto_inc: u128,
        rows: u64,
    ) {
        self.start(kind::TABLE);
        self.put(&module_id.to_le_bytes());
        self.put(&table_id.to_le_bytes());
        self.put(&schema_hash.to_le_bytes());
        self.put(&next_auto_inc.to_le_bytes());
        self.put(&rows.to_le_bytes());
        self.end();
        self.rows_due = rows;
    }

    /// A row of the last table.
    pub fn row(&mut self, row: &[u8]) {
        assert!(self.rows_due > 0, "more rows than the table announced");
        self.start(kind::ROW);
        self.bytes(row);
        self.rows_due -= 1;
        self.end();
    }

    /// A pending subscription call.
    pub fn pending(&mut self, call: &PendingCall) {
        self.start(kind::PENDING);
        self.put(&call.cause.to_le_bytes());
        self.put(&call.depth.to_le_bytes());
        self.bytes(call.module.as_bytes());
        self.bytes(call.reducer.as_bytes());
        self.bytes(&call.args);
        self.put(&(call.path.len() as u32).to_le_bytes());
        for step in &call.path {
            self.bytes(step.as_bytes());
        }
        self.end();
    }

    /// A request id a commit carries (see [`Record::Request`]).
    pub fn request(&mut self, id: &str, offset: u64, timestamp: u64, fingerprint: u64) {
        self.start(kind::REQUEST);
        self.bytes(id.as_bytes());
        self.put(&offset.to_le_bytes());
        self.put(&timestamp.to_le_bytes());
        self.put(&fingerprint.to_le_bytes());
        self.end();
    }

    /// When an interval schedule row is next due (see [`Record::Timer`]).
    pub fn timer(&mut self, module_id: u32, table_id: u32, key: &[u8], due: u64) {
        self.start(kind::TIMER);
        self.put(&module_id.to_le_bytes());
        self.put(&table_id.to_le_bytes());
        self.bytes(key);
        self.put(&due.to_le_bytes());
        self.end();
    }

    /// Closes the last block and writes the trailer.
    pub fn finish(mut self) -> Bytes {
        assert_eq!(self.rows_due, 0, "fewer rows than the table announced");
        self.close_block();
        let at = self.out.len();
        self.out.extend_from_slice(&TRAILER_MAGIC);
        self.out.extend_from_slice(&self.blocks.to_le_bytes());
        self.out.extend_from_slice(&self.records.to_le_bytes());
        self.out.extend_from_slice(&self.offset.to_le_bytes());
        let crc = crc32fast::hash(&self.out[at..]);
        self.out.extend_from_slice(&crc.to_le_bytes());
        self.out.into()
    }

    fn start(&mut self, kind: u8) {
        assert!(
            kind == kind::ROW || self.rows_due == 0,
            "fewer rows than the table announced"
        );
        if self.block.is_none() {
            self.block = Some(self.out.len());
            self.out.extend_from_slice(&[0; BLOCK_HEADER_LEN]);
        }
        self.out.push(kind);
    }

    fn put(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// A length-prefixed byte string (`u32` length).
    fn bytes(&mut self, bytes: &[u8]) {
        let len = u32::try_from(bytes.len()).expect("a snapshot field over 4 GiB");
        self.put(&len.to_le_bytes());
        self.put(bytes);
    }

    fn end(&mut self) {
        self.records += 1;
        let start = self.block.expect("a record is in a block");
        if self.out.len() - start - BLOCK_HEADER_LEN >= BLOCK_TARGET {
            self.close_block();
        }
    }

    fn close_block(&mut self) {
        let Some(start) = self.block.take() else {
            return;
        };
        let payload = start + BLOCK_HEADER_LEN;
        let len = u32::try_from(self.out.len() - payload).expect("a snapshot block over 4 GiB");
        let crc = block_crc(self.blocks, &self.out[payload..]);
        self.out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.out[start + 4..payload].copy_from_slice(&crc.to_le_bytes());
        self.blocks += 1;
    }
}
