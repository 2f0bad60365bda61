use interstice_sdk::prelude::*;

#[table]
pub struct Item {
    #[primary_key]
    pub id: u64,
}

#[reducer(read_only)]
pub fn sneaky(ctx: &ReadOnlyContext) -> Result<(), Error> {
    ctx.db().item().insert(Item { id: 1 })?;
    Ok(())
}

fn main() {}
