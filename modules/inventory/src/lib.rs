//! A stock of items, filled in bulk: what the table-engine benchmark
//! (`cargo bench -p interstice-core`) replays. One table, the shape most
//! applications start with: an auto-increment key, an indexed integer, a
//! string and a number.

use interstice_sdk::prelude::*;

/// One item. `id` is assigned by the runtime (insert it as 0).
#[table(name = "items", public)]
pub struct Item {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    /// Which of 1,000 buckets the item is in.
    #[index]
    pub bucket: u32,
    pub name: String,
    pub qty: i64,
}

/// Adds `count` items, numbered from `first`: item `n` goes to bucket
/// `n % 1000` and is called `item-{n}`.
#[reducer(public)]
pub fn fill(ctx: &mut ReducerContext, first: u64, count: u32) -> Result<(), Error> {
    let items = ctx.db().items();
    for n in first..first + u64::from(count) {
        items.insert(Item {
            id: 0,
            bucket: (n % 1000) as u32,
            name: format!("item-{n}"),
            qty: (n % 97) as i64 - 48,
        })?;
    }
    Ok(())
}

/// Changes the quantity of item `id`.
#[reducer(public)]
pub fn restock(ctx: &mut ReducerContext, id: u64, qty: i64) -> Result<(), Error> {
    let items = ctx.db().items();
    let Some(mut item) = items.get(&id)? else {
        return Err(Error::Host(format!("no item {id}")));
    };
    item.qty = qty;
    items.update(item)?;
    Ok(())
}
