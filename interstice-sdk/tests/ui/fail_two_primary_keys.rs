use interstice_sdk::prelude::*;

#[table]
pub struct Item {
    #[primary_key]
    pub id: u64,
    #[primary_key]
    pub code: String,
}

fn main() {}
