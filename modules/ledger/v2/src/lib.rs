//! `ledger` 1.1.0: accounts gain a currency. Rows written by 1.0.0 take
//! the column's default, `"EUR"`, when this version is published, and an
//! index finds accounts by currency. No migration: the table stays at
//! version 1, and the change is compatible.

use interstice_sdk::prelude::*;

/// The version in every message, so a caller sees which code ran.
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[table(name = "accounts", public)]
pub struct Account {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub owner: String,
    pub balance: i64,
    /// Added in 1.1.0: accounts opened before hold euros.
    #[default("EUR")]
    #[index]
    pub currency: String,
}

/// Opens an account for `owner` with an opening balance, in euros.
#[reducer(public)]
pub fn open(ctx: &mut ReducerContext, owner: String, balance: i64) -> Result<(), Error> {
    let account = ctx.db().accounts().insert(Account {
        id: 0,
        owner,
        balance,
        currency: "EUR".into(),
    })?;
    ctx.log(format!("ledger {VERSION}: opened account {}", account.id));
    Ok(())
}

/// Adds `amount` to account `id`.
#[reducer(public)]
pub fn deposit(ctx: &mut ReducerContext, id: u64, amount: i64) -> Result<(), String> {
    let accounts = ctx.db().accounts();
    let mut account = accounts
        .get(&id)?
        .ok_or_else(|| format!("no account {id}"))?;
    account.balance += amount;
    accounts.update(account)?;
    ctx.log(format!("ledger {VERSION}: deposited {amount} into {id}"));
    Ok(())
}

/// Moves account `id` to another currency (its balance as it is).
#[reducer(public)]
pub fn set_currency(ctx: &mut ReducerContext, id: u64, currency: String) -> Result<(), String> {
    let accounts = ctx.db().accounts();
    let mut account = accounts
        .get(&id)?
        .ok_or_else(|| format!("no account {id}"))?;
    account.currency = currency;
    accounts.update(account)?;
    Ok(())
}

/// How many accounts hold `currency` (through the index 1.1.0 added).
#[reducer(public, read_only)]
pub fn count_in(ctx: &ReadOnlyContext, currency: String) -> Result<(), Error> {
    let n = ctx.db().accounts().by_currency().filter(&currency)?.count();
    ctx.log(format!("ledger {VERSION}: {n} accounts in {currency}"));
    Ok(())
}
