use interstice_sdk::prelude::*;

#[table(name = "a", version = 2)]
pub struct A {
    #[primary_key]
    pub id: u64,
}

#[table_version(a)]
pub struct AV1 {
    #[primary_key]
    pub id: u64,
}

#[migration(table = "a")]
pub fn no_version(_ctx: &mut ReducerContext) {}

#[migration(table = "a", from = 1)]
pub fn with_params(_ctx: &mut ReducerContext, n: u64) {
    let _ = n;
}

#[migration(table = "a", from = 1, public)]
pub fn public(_ctx: &mut ReducerContext) {}

fn main() {}
