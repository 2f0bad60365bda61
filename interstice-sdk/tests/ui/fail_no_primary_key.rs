use interstice_sdk::prelude::*;

#[table]
pub struct Item {
    pub id: u64,
}

fn main() {}
