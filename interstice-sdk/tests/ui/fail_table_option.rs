use interstice_sdk::prelude::*;

#[table(pubic)]
pub struct Item {
    #[primary_key]
    pub id: u64,
}

fn main() {}
