//! Appending to an S3 log: one create-only object per batch, up to the
//! configured number in flight at once, acknowledged strictly in offset
//! order (`docs/s3.md`, "Pipelined appends").
//!
//! An append first takes its place (its offsets, under the state lock, in
//! the order appends are started), then its PUT runs in a task of its
//! own, then it waits for its turn: the append before it decided. Only
//! then does it learn whether it is acknowledged, and the decision never
//! beats an earlier one's: behind an append whose outcome is unknown, a
//! stored object is unknown too (it is in the log only if the earlier one
//! lands), and behind a fenced one it is fenced.
//!
//! The first append of a writer epoch goes alone, with the lock held:
//! where the epoch begins, and how many appends it keeps in flight, are
//! recorded once it is stored (see `epochs.rs`), before anything else is
//! started.

use bytes::{Bytes, BytesMut};
use interstice_log::codec::{SegmentHeader, set_epoch};
use interstice_log::scan::SegmentFrames;
use interstice_log::{CommitBatch, Error, LogStore, PendingAppend};
use tokio::sync::{MutexGuard, oneshot};

use crate::objects::Segment;
use crate::store::{S3LogStore, State};

/// An append whose outcome is not settled: its object, its bytes, and the
/// offset after its last commit.
#[derive(Clone, Debug)]
pub(crate) struct Unsettled {
    pub seg: Segment,
    pub body: Bytes,
    pub next: u64,
}

/// Who is appending: this writer's epoch, and whether its first object
/// is stored.
#[derive(Clone, Copy)]
struct Mine {
    epoch: u64,
    started: bool,
}

/// What became of a PUT.
enum Put {
    /// This append's bytes are under the key: stored.
    Ours,
    /// Another writer's are.
    Theirs,
    /// Not known, for the reason given: the PUT may still land.
    Unknown(String),
}

/// What a key holds when it is read back.
enum Stored {
    /// This append's bytes: it succeeded.
    Ours,
    /// Someone else's: another writer.
    Theirs,
    /// Nothing: it was not stored.
    Absent,
}

impl S3LogStore {
    /// [`interstice_log::LogStore::start_append`] on S3.
    pub(crate) async fn start(&self, batch: &CommitBatch) -> Result<PendingAppend, Error> {
        self.check_writable()?;
        let mut state = self.lock().await;
        self.check_not_fenced(&state)?;
        if !state.unresolved.is_empty() {
            if state.in_flight > 0 {
                return Err(Error::Poisoned {
                    reason: "an earlier append's outcome is not known yet".into(),
                });
            }
            self.resolve(&mut state).await?;
        }
        self.record_start(&mut state).await;
        let max = self.max_frame_size();
        batch.check(state.reserved, max)?;
        let next = batch.next_offset();
        let u = Unsettled {
            seg: Segment::new(batch.first_offset()),
            body: object_bytes(batch, max, state.epoch),
            next,
        };
        let mine = Mine {
            epoch: state.epoch,
            started: state.appended,
        };
        if !self.pipelined(&state) {
            let result = self.append_alone(&mut state, u, mine).await;
            return Ok(Box::pin(std::future::ready(result)));
        }
        state.reserved = next;
        state.in_flight += 1;
        drop(state);
        let (tx, rx) = oneshot::channel();
        let this = self.clone();
        let (first, last) = (batch.first_offset(), next - 1);
        // Its own task: dropping the caller's future cancels nothing, and
        // the appends after it get their turn.
        tokio::spawn(async move {
            let put = this.put(&u.seg, &u.body, mine).await;
            let _ = tx.send(this.acknowledge(u, put).await);
        });
        Ok(Box::pin(async move {
            rx.await.unwrap_or_else(|_| {
                Err(Error::OutcomeUnknown {
                    first,
                    last,
                    detail: "the task writing the object stopped".into(),
                })
            })
        }))
    }

    /// Whether appends may go several at a time now: the epoch's start is
    /// recorded.
    fn pipelined(&self, state: &State) -> bool {
        self.max_in_flight() > 1 && state.appended && state.unrecorded_start.is_none()
    }

    /// Appends with the state lock held: nothing else starts meanwhile.
    async fn append_alone(&self, state: &mut State, u: Unsettled, mine: Mine) -> Result<(), Error> {
        let result = match self.put(&u.seg, &u.body, mine).await {
            Put::Ours => {
                self.appended(state, u.seg, u.next).await;
                Ok(())
            }
            Put::Theirs => Err(self.fence(state, &u.seg)),
            Put::Unknown(why) => {
                let e = self.unknown(
                    &u,
                    format!("{why} (the store checks the key before its next append)"),
                );
                state.unresolved.push(u);
                Err(e)
            }
        };
        self.pass_turn(state.reserved);
        result
    }

    /// Waits for the append before `u` to be decided, then decides `u`'s
    /// outcome from its PUT's and from what became of those before it.
    async fn acknowledge(&self, u: Unsettled, put: Put) -> Result<(), Error> {
        let first = u.seg.first_offset;
        let mut turn = self.turn();
        // Fails only when the store is gone, which this task prevents.
        let _ = turn.wait_for(|&decided| decided >= first).await;
        let mut state = self.lock().await;
        let next = u.next;
        let result = match (put, state.fenced.clone()) {
            (Put::Theirs, _) => Err(self.fence(&mut state, &u.seg)),
            (_, Some(detail)) => Err(self.fenced(format!(
                "{detail}; commits {first}..={} came after it",
                next - 1
            ))),
            (Put::Ours, None) if state.unresolved.is_empty() => {
                self.appended(&mut state, u.seg.clone(), next).await;
                Ok(())
            }
            (Put::Ours, None) => {
                let e = self.unknown(&u, "stored, but an earlier append's outcome is unknown: it is in the log only if that one is".into());
                state.unresolved.push(u);
                Err(e)
            }
            (Put::Unknown(why), None) => {
                let e = self.unknown(&u, why);
                state.unresolved.push(u);
                Err(e)
            }
        };
        state.in_flight -= 1;
        self.pass_turn(next);
        result
    }

    fn unknown(&self, u: &Unsettled, why: String) -> Error {
        Error::OutcomeUnknown {
            first: u.seg.first_offset,
            last: u.next - 1,
            detail: format!("cannot append to {}: {why}", self.location()),
        }
    }

    /// Writes `body` under `seg`'s key, create-only, and finds out whose
    /// bytes the key holds when that is in doubt. A key taken by a
    /// replaced writer's leftover (see [`S3LogStore::leftover`]) is
    /// cleared, its bytes kept in quarantine, and written again.
    async fn put(&self, seg: &Segment, body: &Bytes, mine: Mine) -> Put {
        for _ in 0..3 {
            match self.objects().create(&seg.name, body.clone()).await {
                Ok(true) => return Put::Ours,
                // Taken: by an attempt of ours whose answer was lost and
                // retried, or by another writer.
                Ok(false) => match self.objects().get(&seg.name).await {
                    Ok(Some(stored)) if stored == *body => return Put::Ours,
                    Ok(Some(stored)) if self.leftover(seg, &stored, mine) => {
                        if let Err(e) = self.clear(seg, stored).await {
                            return Put::Unknown(format!(
                                "its key holds a replaced writer's leftover, which cannot be set aside ({e})"
                            ));
                        }
                    }
                    Ok(_) => return Put::Theirs,
                    Err(e) => {
                        return Put::Unknown(format!(
                            "its key was taken, and reading it back failed ({e})"
                        ));
                    }
                },
                // The request may or may not have been applied, and may
                // still be applied later: only storing the same bytes
                // under the key now settles it.
                Err(e) => {
                    return match self.settle(seg, body).await {
                        Ok(true) => Put::Ours,
                        Ok(false) => Put::Theirs,
                        Err(why) => Put::Unknown(format!("{e}; {why}")),
                    };
                }
            }
        }
        Put::Theirs
    }

    /// Whether `stored`, found under `seg`'s key, is a leftover of a
    /// replaced writer: once this writer's own first object is stored,
    /// no writer of an older epoch can have had a commit acknowledged at a
    /// later offset (its append of that first offset found the key taken
    /// and it was fenced, and acknowledgements go in offset order), so
    /// whole valid frames all of an older epoch there are a late `PUT` or
    /// an in-flight append of a writer that crashed or was fenced.
    fn leftover(&self, seg: &Segment, stored: &Bytes, mine: Mine) -> bool {
        if !mine.started {
            return false;
        }
        let max = self.max_frame_size();
        let Ok(mut frames) = SegmentFrames::new(&seg.name, stored.clone(), seg.first_offset, max)
        else {
            return false;
        };
        let mut any = false;
        while let Some(frame) = frames.next() {
            if frame.is_err() || frames.epoch() >= mine.epoch {
                return false;
            }
            any = true;
        }
        any
    }

    /// Moves a leftover out of `seg`'s key: quarantined, then deleted.
    async fn clear(&self, seg: &Segment, stored: Bytes) -> Result<(), Error> {
        let q = self.objects().quarantine(&seg.name, 0, stored).await?;
        self.objects().delete(&seg.name).await?;
        tracing::warn!(
            log = %self.location(),
            "offset {} held a replaced writer's unacknowledged commits; {q}",
            seg.first_offset
        );
        Ok(())
    }

    /// Settles the appends whose outcome was unknown, in offset order:
    /// each key read back, or its bytes put again when it holds nothing
    /// yet (the lost PUT could still land), so that their commits are then
    /// certainly in the log or certainly another writer's. Nothing may be
    /// in flight.
    pub(crate) async fn resolve(&self, state: &mut State) -> Result<(), Error> {
        while let Some(u) = state.unresolved.first().cloned() {
            match self.settle(&u.seg, &u.body).await {
                Ok(true) => {
                    state.unresolved.remove(0);
                    self.appended(state, u.seg, u.next).await;
                }
                Ok(false) => {
                    state.unresolved.clear();
                    state.reserved = state.next_offset;
                    return Err(self.fence(state, &u.seg));
                }
                Err(why) => {
                    return Err(
                        self.unknown(&u, format!("an earlier append is still unsettled: {why}"))
                    );
                }
            }
        }
        state.reserved = state.next_offset;
        self.pass_turn(state.reserved);
        Ok(())
    }

    /// Waits until no append is in flight, and returns the state locked.
    pub(crate) async fn settled(&self) -> MutexGuard<'_, State> {
        let mut turn = self.turn();
        loop {
            let state = self.lock().await;
            if state.in_flight == 0 {
                return state;
            }
            let reserved = state.reserved;
            drop(state);
            let _ = turn.wait_for(|&d| d >= reserved).await;
        }
    }

    /// Bookkeeping after `seg` was stored, holding commits up to `next`
    /// (exclusive). The first append of this epoch records where the epoch
    /// began, now that its object is certainly stored and before it is
    /// acknowledged: recorded earlier, an older writer's commit that got
    /// in ahead of it would look like a late write. When that fails it is
    /// tried again before the next append; meanwhile only rule 1 (epochs
    /// never go backwards) guards this epoch's first commits.
    async fn appended(&self, state: &mut State, seg: Segment, next: u64) {
        if !state.appended {
            state.appended = true;
            state.unrecorded_start = Some(seg.first_offset);
            self.delete_leftovers(state).await;
        }
        state.segments.push(seg);
        state.next_offset = next;
        state.reserved = state.reserved.max(next);
        self.record_start(state).await;
    }

    /// Deletes the objects recovery set aside (their bytes are in
    /// quarantine): with this writer's first object stored, the writer
    /// that left them can no longer acknowledge them. One that cannot be
    /// deleted now is cleared when an append reaches its key.
    async fn delete_leftovers(&self, state: &mut State) {
        for seg in std::mem::take(&mut state.leftovers) {
            if let Err(e) = self.objects().delete(&seg.name).await {
                tracing::warn!(log = %self.location(), "cannot delete the leftover {}: {e}", seg.name);
            }
        }
    }

    /// Records this epoch's start if it is not recorded yet.
    async fn record_start(&self, state: &mut State) {
        let Some(start) = state.unrecorded_start else {
            return;
        };
        let window = self.max_in_flight() as u64;
        match self
            .objects()
            .record_epoch_start(state.epoch, start, window)
            .await
        {
            Ok(()) => {
                state.starts.insert(state.epoch, start);
                state.unrecorded_start = None;
            }
            Err(e) => tracing::warn!(
                log = %self.location(),
                "cannot record where writer epoch {} began (tried again before the next append): {e}",
                state.epoch
            ),
        }
    }

    /// After a PUT of `body` under `seg`'s key failed without an answer:
    /// whether the key holds these bytes (`true`) or another writer's,
    /// made certain by putting the same bytes again (create-only) when it
    /// holds nothing yet, since the failed PUT may still land. `Err` says
    /// why the outcome is still not known.
    async fn settle(&self, seg: &Segment, body: &Bytes) -> Result<bool, String> {
        match self.read_back(seg, body).await {
            Ok(Stored::Absent) => {}
            Ok(s) => return Ok(matches!(s, Stored::Ours)),
            Err(e) => return Err(format!("reading the key back failed too ({e})")),
        }
        match self.objects().create(&seg.name, body.clone()).await {
            Ok(true) => Ok(true),
            Ok(false) => match self.read_back(seg, body).await {
                Ok(s) => Ok(matches!(s, Stored::Ours)),
                Err(e) => Err(format!("reading the key back failed ({e})")),
            },
            Err(e) => Err(format!(
                "the key held nothing yet and putting the commits again failed too ({e})"
            )),
        }
    }

    /// Whose bytes the key of `seg` holds.
    async fn read_back(&self, seg: &Segment, body: &Bytes) -> Result<Stored, Error> {
        Ok(match self.objects().get(&seg.name).await? {
            Some(stored) if stored == *body => Stored::Ours,
            Some(_) => Stored::Theirs,
            None => Stored::Absent,
        })
    }

    /// Another writer stored `seg`'s offset: this store writes no more.
    fn fence(&self, state: &mut State, seg: &Segment) -> Error {
        let detail = format!(
            "offset {} was written by another writer (object {})",
            seg.first_offset, seg.name
        );
        tracing::error!(log = %self.location(), "fenced: {detail}");
        state.fenced = Some(detail.clone());
        self.fenced(detail)
    }
}

/// Segment header and the batch's frames, each stamped with the writer's
/// `epoch`: the object's bytes.
fn object_bytes(batch: &CommitBatch, max_frame_size: u64, epoch: u64) -> Bytes {
    let header = SegmentHeader::new(batch.first_offset(), max_frame_size).encode();
    let mut body = BytesMut::with_capacity(header.len() + batch.bytes().len());
    body.extend_from_slice(&header);
    for (_, frame) in batch.frames() {
        let at = body.len();
        body.extend_from_slice(frame);
        set_epoch(&mut body[at..], epoch);
    }
    body.freeze()
}
