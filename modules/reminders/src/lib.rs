//! Reminders: a schedule table whose rows fire once (at a time) or every
//! so often (an interval), and a record of every time one fired.
//!
//! Inserting into `reminders` schedules a call of `remind` with the row;
//! deleting the row cancels it. The runtime deletes a one-shot row in the
//! same commit that runs it; an interval row fires until it is deleted.

use interstice_sdk::prelude::*;

/// A reminder, due at a time or every interval.
#[table(name = "reminders", public, scheduled(reducer = "remind"))]
pub struct Reminder {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub text: String,
    pub at: ScheduleAt,
}

/// Each time a reminder fired: when it was due, and when it ran.
#[table(name = "fired", public)]
pub struct Fired {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index]
    pub reminder: u64,
    pub text: String,
    pub due: Timestamp,
    pub ran: Timestamp,
}

/// Reminds of `text` once, at `at`.
#[reducer(public)]
pub fn remind_at(ctx: &mut ReducerContext, text: String, at: Timestamp) -> Result<(), Error> {
    ctx.db().reminders().insert(Reminder {
        id: 0,
        text,
        at: ScheduleAt::Time(at),
    })?;
    Ok(())
}

/// Reminds of `text` once, `micros` from now.
#[reducer(public)]
pub fn remind_in(ctx: &mut ReducerContext, text: String, micros: u64) -> Result<(), Error> {
    let at = Timestamp(ctx.now().0 + micros);
    remind_at(ctx, text, at)
}

/// Reminds of `text` every `micros`, the first time `micros` from now,
/// until cancelled.
#[reducer(public)]
pub fn every(ctx: &mut ReducerContext, text: String, micros: u64) -> Result<(), Error> {
    ctx.db().reminders().insert(Reminder {
        id: 0,
        text,
        at: ScheduleAt::Interval(std::time::Duration::from_micros(micros)),
    })?;
    Ok(())
}

/// Schedules `count` reminders all due at `at` (a burst).
#[reducer(public)]
pub fn remind_many(
    ctx: &mut ReducerContext,
    text: String,
    count: u32,
    at: Timestamp,
) -> Result<(), Error> {
    for i in 0..count {
        ctx.db().reminders().insert(Reminder {
            id: 0,
            text: format!("{text} {i}"),
            at: ScheduleAt::Time(at),
        })?;
    }
    Ok(())
}

/// Cancels reminder `id`: it will not fire (again).
#[reducer(public)]
pub fn cancel(ctx: &mut ReducerContext, id: u64) -> Result<(), String> {
    if !ctx.db().reminders().delete(&id)? {
        return Err(format!("no reminder {id}"));
    }
    Ok(())
}

/// A reminder comes due: records that it fired. A reminder whose text
/// starts with "fail" fails instead (its run is spent all the same: a
/// one-shot row is deleted, an interval fires again at its next tick).
#[reducer(inserts(fired))]
pub fn remind(ctx: &mut ReducerContext, reminder: Reminder) -> Result<(), String> {
    if reminder.text.starts_with("fail") {
        return Err(format!("reminder {} fails on purpose", reminder.id));
    }
    let due = ctx
        .scheduled()
        .ok_or("`remind` runs only when a reminder comes due")?;
    ctx.db().fired().insert(Fired {
        id: 0,
        reminder: reminder.id,
        text: reminder.text,
        due,
        ran: ctx.now(),
    })?;
    Ok(())
}
