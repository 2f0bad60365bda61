use interstice_sdk::prelude::*;

#[reducer(on = "m.items.upsert")]
pub fn on_item(_ctx: &mut ReducerContext, row: u64) {}

fn main() {}
