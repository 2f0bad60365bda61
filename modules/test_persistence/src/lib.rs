//! The module restart and crash tests run: accounts, transfers and an
//! audit trail, where most reducers change several tables in one
//! transaction, and some fail halfway on purpose.

use interstice_sdk::prelude::*;

/// What an audit entry records.
#[derive(IntersticeType, Clone, Debug, PartialEq)]
pub enum Event {
    Opened,
    Transfer { from: u64, to: u64 },
    Churned(u64),
    Closed,
}

#[table(name = "accounts", public)]
pub struct Account {
    #[primary_key]
    pub id: u64,
    #[index]
    pub owner: String,
    pub balance: i64,
    pub tags: Vec<String>,
}

#[table(name = "transfers")]
pub struct Transfer {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index]
    pub from: u64,
    pub to: u64,
    pub amount: i64,
    pub at: Timestamp,
}

#[table(name = "audit")]
pub struct Audit {
    #[primary_key]
    #[auto_inc]
    pub seq: u64,
    pub event: Event,
    pub note: Option<String>,
}

fn audit(ctx: &ReducerContext, event: Event, note: Option<String>) -> Result<(), Error> {
    ctx.db().audit().insert(Audit {
        seq: 0,
        event,
        note,
    })?;
    Ok(())
}

/// Opens account `id` for `owner` with an opening balance.
#[reducer(public)]
pub fn open(ctx: &mut ReducerContext, id: u64, owner: String, balance: i64) -> Result<(), Error> {
    ctx.db().accounts().insert(Account {
        id,
        owner,
        balance,
        tags: vec!["new".into()],
    })?;
    audit(ctx, Event::Opened, None)
}

/// Moves `amount` from one account to another: two updates, a transfer
/// row and an audit row. It debits first, so a missing target or a
/// short balance fails halfway, and the whole transaction is discarded.
#[reducer(public)]
pub fn transfer(ctx: &mut ReducerContext, from: u64, to: u64, amount: i64) -> Result<(), String> {
    let accounts = ctx.db().accounts();
    let mut source = accounts
        .get(&from)?
        .ok_or_else(|| format!("no account {from}"))?;
    source.balance -= amount;
    let short = source.balance < 0;
    accounts.update(source)?;
    if short {
        return Err(format!("account {from} has less than {amount}"));
    }
    let mut target = accounts
        .get(&to)?
        .ok_or_else(|| format!("no account {to}"))?;
    target.balance += amount;
    accounts.update(target)?;
    let at = ctx.now();
    ctx.db().transfers().insert(Transfer {
        id: 0,
        from,
        to,
        amount,
        at,
    })?;
    audit(ctx, Event::Transfer { from, to }, Some(format!("{amount}")))?;
    Ok(())
}

/// Inserts, updates and deletes across all three tables at once: opens
/// account `id`, tags every account with `id`, forgets the oldest
/// transfer, and audits it.
#[reducer(public)]
pub fn churn(ctx: &mut ReducerContext, id: u64) -> Result<(), Error> {
    let accounts = ctx.db().accounts();
    accounts.insert(Account {
        id,
        owner: format!("churn-{}", ctx.random() % 7),
        balance: 0,
        tags: Vec::new(),
    })?;
    let all: Vec<Account> = accounts.iter()?.collect::<Result<_, _>>()?;
    for mut a in all {
        a.tags.push(id.to_string());
        accounts.update(a)?;
    }
    let oldest = ctx.db().transfers().iter()?.next().transpose()?;
    if let Some(t) = oldest {
        ctx.db().transfers().delete(&t.id)?;
    }
    audit(ctx, Event::Churned(id), None)
}

/// Closes an account: deletes it and every transfer from it.
#[reducer(public)]
pub fn close(ctx: &mut ReducerContext, id: u64) -> Result<(), String> {
    if !ctx.db().accounts().delete(&id)? {
        return Err(format!("no account {id}"));
    }
    let from: Vec<Transfer> = ctx
        .db()
        .transfers()
        .by_from()
        .filter(&id)?
        .collect::<Result<_, _>>()?;
    for t in from {
        ctx.db().transfers().delete(&t.id)?;
    }
    audit(ctx, Event::Closed, Some(format!("{id}")))?;
    Ok(())
}

/// Writes, then traps: the runtime must discard the write.
#[reducer]
pub fn panic_after_write(ctx: &mut ReducerContext, id: u64) -> Result<(), Error> {
    ctx.db().accounts().insert(Account {
        id,
        owner: "doomed".into(),
        balance: 1,
        tags: Vec::new(),
    })?;
    panic!("trapping after a write, on purpose");
}
