use interstice_sdk::prelude::*;
use std::collections::HashMap;

#[table]
pub struct Item {
    #[primary_key]
    pub id: u64,
    pub attrs: HashMap<String, String>,
}

fn main() {}
