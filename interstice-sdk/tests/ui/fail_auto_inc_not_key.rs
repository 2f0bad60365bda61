use interstice_sdk::prelude::*;

#[table]
pub struct Item {
    #[primary_key]
    pub id: u64,
    #[auto_inc]
    pub n: u64,
}

fn main() {}
