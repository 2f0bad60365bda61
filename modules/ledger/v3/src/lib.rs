//! `ledger` 2.0.0: the table `accounts` becomes `wallets`, and its
//! `owner` column splits into `first_name` and `last_name`. A split cannot
//! be carried over column by column, so the table's version goes to 2 and
//! the migration `split_owner` rewrites every row, once, in the commit
//! that publishes this version. It refuses an account without an owner
//! to split, and then nothing is published.

use interstice_sdk::prelude::*;

/// The version in every message, so a caller sees which code ran.
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[table(name = "wallets", renamed_from = "accounts", version = 2, public)]
pub struct Wallet {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub first_name: String,
    pub last_name: String,
    pub balance: i64,
    #[index]
    pub currency: String,
}

/// A row of `accounts` as 1.1.0 left it (table version 1).
#[table_version(wallets, 1)]
pub struct AccountV1 {
    #[primary_key]
    pub id: u64,
    pub owner: String,
    pub balance: i64,
    pub currency: String,
}

/// `"Ada King Lovelace"` → `("Ada", "King Lovelace")`; a single name is a
/// first name.
fn split(owner: &str) -> (String, String) {
    match owner.trim().split_once(' ') {
        Some((first, last)) => (first.to_owned(), last.trim().to_owned()),
        None => (owner.trim().to_owned(), String::new()),
    }
}

/// Rewrites every account of table version 1 as a wallet.
#[migration(table = "wallets", from = 1, inserts(wallets))]
pub fn split_owner(ctx: &mut ReducerContext) -> Result<(), String> {
    let wallets = ctx.db().wallets();
    let mut n = 0;
    for old in ctx.old::<AccountV1>().iter()? {
        let old = old?;
        if old.owner.trim().is_empty() {
            return Err(format!("account {} has no owner to split", old.id));
        }
        let (first_name, last_name) = split(&old.owner);
        wallets.insert(Wallet {
            id: old.id,
            first_name,
            last_name,
            balance: old.balance,
            currency: old.currency,
        })?;
        n += 1;
    }
    ctx.log(format!(
        "ledger {VERSION}: split the owners of {n} accounts"
    ));
    Ok(())
}

/// Opens a wallet for `owner` (split into first and last name) with an
/// opening balance, in euros.
#[reducer(public)]
pub fn open(ctx: &mut ReducerContext, owner: String, balance: i64) -> Result<(), Error> {
    let (first_name, last_name) = split(&owner);
    let wallet = ctx.db().wallets().insert(Wallet {
        id: 0,
        first_name,
        last_name,
        balance,
        currency: "EUR".into(),
    })?;
    ctx.log(format!("ledger {VERSION}: opened account {}", wallet.id));
    Ok(())
}

/// Adds `amount` to wallet `id`.
#[reducer(public)]
pub fn deposit(ctx: &mut ReducerContext, id: u64, amount: i64) -> Result<(), String> {
    let wallets = ctx.db().wallets();
    let mut wallet = wallets
        .get(&id)?
        .ok_or_else(|| format!("no account {id}"))?;
    wallet.balance += amount;
    wallets.update(wallet)?;
    ctx.log(format!("ledger {VERSION}: deposited {amount} into {id}"));
    Ok(())
}

/// Moves wallet `id` to another currency (its balance as it is).
#[reducer(public)]
pub fn set_currency(ctx: &mut ReducerContext, id: u64, currency: String) -> Result<(), String> {
    let wallets = ctx.db().wallets();
    let mut wallet = wallets
        .get(&id)?
        .ok_or_else(|| format!("no account {id}"))?;
    wallet.currency = currency;
    wallets.update(wallet)?;
    Ok(())
}

/// How many wallets hold `currency`.
#[reducer(public, read_only)]
pub fn count_in(ctx: &ReadOnlyContext, currency: String) -> Result<(), Error> {
    let n = ctx.db().wallets().by_currency().filter(&currency)?.count();
    ctx.log(format!("ledger {VERSION}: {n} accounts in {currency}"));
    Ok(())
}
