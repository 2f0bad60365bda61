use interstice_sdk::prelude::*;

interstice_sdk::dependency! {
    pub mod hello >= "0.1.0" {
        fn hello(name: String);
    }
}

#[reducer]
pub fn greet(ctx: &mut ReducerContext) -> Result<(), Error> {
    hello::helo(ctx, "x".into())
}

fn main() {}
