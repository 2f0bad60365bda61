use interstice_sdk::prelude::*;

#[reducer(read_only, writes(items))]
pub fn count(_ctx: &ReadOnlyContext) {}

#[reducer(updates("items"))]
pub fn touch(_ctx: &mut ReducerContext) {}

fn main() {}
