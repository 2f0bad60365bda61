//! Calls another module: `hello`'s public `hello` reducer runs inside this
//! module's transaction, so both modules' writes commit together or not
//! at all.

use interstice_sdk::prelude::*;

interstice_sdk::dependency! {
    /// The `hello` module, and the reducers of it this module calls.
    pub mod hello >= "0.1.0" {
        /// Inserts a greeting for `name`.
        fn hello(name: String);
        /// A private reducer: calling it is refused.
        fn on_greeting(id: u64, greeting: String);
    }
}

/// Who was greeted through this module.
#[table(name = "calls")]
pub struct Call {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub name: String,
}

/// Records the call, then greets `name` through `hello`: one transaction.
#[reducer(public)]
pub fn greet(ctx: &mut ReducerContext, name: String) -> Result<(), Error> {
    ctx.db().calls().insert(Call {
        id: 0,
        name: name.clone(),
    })?;
    hello::hello(ctx, name)
}

/// Greets through `hello`, then fails: neither module keeps a thing.
#[reducer]
pub fn greet_then_fail(ctx: &mut ReducerContext, name: String) -> Result<(), String> {
    ctx.db().calls().insert(Call {
        id: 0,
        name: name.clone(),
    })?;
    hello::hello(ctx, name)?;
    Err("changed my mind".into())
}

/// Tries `hello`'s private subscription reducer (refused).
#[reducer]
pub fn call_private(ctx: &mut ReducerContext) -> Result<(), Error> {
    hello::on_greeting(ctx, 1, "sneaky".into())
}

/// Tries a module it never declared as a dependency (refused).
#[reducer]
pub fn call_undeclared(ctx: &mut ReducerContext) -> Result<(), Error> {
    let mut args = Vec::new();
    IntersticeType::encode(&1u64, &mut args);
    ctx.call_encoded("test_persistence", "close", &args)
}
