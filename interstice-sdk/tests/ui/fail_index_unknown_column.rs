use interstice_sdk::prelude::*;

#[table(index(name = "by_a_c", columns(a, c)))]
pub struct Item {
    #[primary_key]
    pub a: u64,
    pub b: u64,
}

fn main() {}
