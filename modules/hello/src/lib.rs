//! The smallest Interstice module, and the one to copy: a table of
//! greetings, a reducer that adds one, and a subscription that logs each
//! new greeting. `docs/modules.md` walks through it.

use interstice_sdk::prelude::*;

/// One greeting. `id` is assigned by the runtime (insert it as 0).
#[table(name = "greetings", public)]
pub struct Greeting {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub greeting: String,
}

/// Greets `name`: inserts `"Hello, {name}!"`.
#[reducer(public)]
pub fn hello(ctx: &mut ReducerContext, name: String) -> Result<(), Error> {
    let greeting = format!("Hello, {name}!");
    let row = ctx.db().greetings().insert(Greeting { id: 0, greeting })?;
    ctx.log(format!("greeting {} stored", row.id));
    Ok(())
}

/// Runs after each committed insert into `greetings` and logs the row.
/// `writes()`: it changes no table, so it cannot trigger itself (a
/// subscription that may write the table it watches is refused at
/// publish as a cycle).
#[reducer(on = "hello.greetings.insert", writes())]
pub fn on_greeting(ctx: &mut ReducerContext, row: Greeting) {
    ctx.log(format!("new greeting #{}: {}", row.id, row.greeting));
}
