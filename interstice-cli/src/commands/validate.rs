//! `interstice validate MODULE.wasm...`

use anyhow::Result;
use interstice_abi::ModuleSchema;
use interstice_abi::writes::ModuleWrites;
use interstice_core::cycles::{Declared, SubscriptionGraph};
use interstice_core::{Limits, PublishError, WasmHost};

/// Checks each module as publishing would, that the dependencies of each
/// are among the others, and that their subscriptions cannot trigger each
/// other in a cycle. Prints every problem; `Ok(false)` if any.
pub fn run(paths: &[String]) -> Result<bool> {
    let host = WasmHost::new(Limits::default());
    let mut problems = 0;
    let mut schemas: Vec<(String, ModuleSchema)> = Vec::new();
    let mut writes: Vec<ModuleWrites> = Vec::new();
    for path in paths {
        let wasm = match std::fs::read(path) {
            Ok(w) => w,
            Err(e) => {
                println!("{path}: cannot read: {e}");
                problems += 1;
                continue;
            }
        };
        match host.inspect(&wasm) {
            Ok(i) => {
                schemas.push((path.clone(), i.schema));
                writes.push(i.writes);
            }
            Err(PublishError::InvalidSchema(errors)) => {
                for e in errors {
                    println!("{path}: schema: {e}");
                    problems += 1;
                }
            }
            Err(e) => {
                println!("{path}: {e}");
                problems += 1;
            }
        }
    }
    for (path, s) in &schemas {
        for d in &s.dependencies {
            match schemas.iter().find(|(_, o)| o.name == d.module) {
                None => {
                    println!(
                        "{path}: depends on `{}` >= {}, which is not among the modules given",
                        d.module, d.min_version
                    );
                    problems += 1;
                }
                Some((_, o))
                    if o.version.major != d.min_version.major || o.version < d.min_version =>
                {
                    println!(
                        "{path}: depends on `{}` >= {} (same major version), but {} is given",
                        d.module, d.min_version, o.version
                    );
                    problems += 1;
                }
                Some(_) => {}
            }
        }
    }
    let declared: Vec<Declared<'_>> = schemas
        .iter()
        .zip(&writes)
        .map(|((_, schema), writes)| Declared { schema, writes })
        .collect();
    if let Some(cycle) = SubscriptionGraph::new(&declared).cycle() {
        println!("{}", PublishError::SubscriptionCycle(cycle));
        problems += 1;
    }
    if problems == 0 {
        for (path, s) in &schemas {
            println!(
                "{path}: ok (module {} {}, {} tables, {} reducers)",
                s.name,
                s.version,
                s.tables.len(),
                s.reducers.len()
            );
        }
        return Ok(true);
    }
    println!("{problems} problem(s)");
    Ok(false)
}
