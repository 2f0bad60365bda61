//! `interstice schema-diff OLD.wasm NEW.wasm`

use anyhow::Result;
use interstice_abi::compat::{diff, keep_table_order};

use super::schema::of_wasm;

/// Prints every change; `Ok(false)` when one is breaking.
pub fn run(old: &str, new: &str) -> Result<bool> {
    let old_schema = of_wasm(old)?;
    let mut new_schema = of_wasm(new)?;
    // As publishing does: published tables keep their ids.
    keep_table_order(&old_schema, &mut new_schema);
    let d = diff(&old_schema, &new_schema);
    if d.changes.is_empty() {
        println!("no schema changes");
        return Ok(true);
    }
    for c in &d.changes {
        println!("{c}");
    }
    if d.is_breaking() {
        println!(
            "{} breaking change(s): publishing {new} over {old} would be refused",
            d.breaking().count()
        );
        return Ok(false);
    }
    println!("compatible: {new} can replace {old}");
    Ok(true)
}
