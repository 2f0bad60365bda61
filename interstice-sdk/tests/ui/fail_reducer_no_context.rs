use interstice_sdk::prelude::*;

#[reducer]
pub fn add() {}

fn main() {}
