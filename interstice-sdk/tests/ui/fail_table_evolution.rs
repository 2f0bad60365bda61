use interstice_sdk::prelude::*;

#[table(name = "a", version = 0)]
pub struct A {
    #[primary_key]
    pub id: u64,
}

#[table(name = "b")]
pub struct B {
    #[primary_key]
    pub id: u64,
    #[renamed_from(old)]
    pub name: String,
}

fn main() {}
