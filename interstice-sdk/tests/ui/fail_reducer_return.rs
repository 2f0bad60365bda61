use interstice_sdk::prelude::*;

#[reducer]
pub fn add(_ctx: &mut ReducerContext) -> u32 {
    1
}

fn main() {}
