//! `ledger` 1.0.0, the first of three versions that show how a module's
//! data evolves (docs/migrations.md): accounts with an owner and a
//! balance. Version 1.1.0 adds a currency with a default and an index;
//! 2.0.0 splits the owner into first and last name and renames the table,
//! with a migration.

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
}

/// Opens an account for `owner` with an opening balance.
#[reducer(public)]
pub fn open(ctx: &mut ReducerContext, owner: String, balance: i64) -> Result<(), Error> {
    let account = ctx.db().accounts().insert(Account {
        id: 0,
        owner,
        balance,
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
