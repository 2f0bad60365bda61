//! What a module must export and may import, checked before anything runs,
//! with errors in the module author's terms: signatures in WAT form, and
//! for an import, which side declares what.

use std::collections::HashMap;

use interstice_abi::ModuleSchema;
use wasmtime::{ExternType, FuncType, Module};

use crate::error::PublishError;
use interstice_abi::wasm as exports;

/// A function type as WAT writes it: `(func (param i32 i32) (result i64))`.
pub(crate) fn wat(f: &FuncType) -> String {
    let list = |kind: &str, types: Vec<String>| {
        if types.is_empty() {
            String::new()
        } else {
            format!(" ({kind} {})", types.join(" "))
        }
    };
    format!(
        "(func{}{})",
        list("param", f.params().map(|t| t.to_string()).collect()),
        list("result", f.results().map(|t| t.to_string()).collect())
    )
}

/// What an export is, in WAT terms.
fn describe(export: Option<ExternType>) -> String {
    match export {
        None => "no such export".into(),
        Some(ExternType::Func(f)) => wat(&f),
        Some(ExternType::Memory(_)) => "a memory".into(),
        Some(ExternType::Table(_)) => "a table".into(),
        Some(ExternType::Global(_)) => "a global".into(),
        Some(_) => "something else".into(),
    }
}

/// Whether `f` is `(func (param <params>) (result <results>))`.
fn has_sig(f: &FuncType, params: &[&str], results: &[&str]) -> bool {
    f.params()
        .map(|t| t.to_string())
        .eq(params.iter().map(|s| s.to_string()))
        && f.results()
            .map(|t| t.to_string())
            .eq(results.iter().map(|s| s.to_string()))
}

/// The function export `name` must have this signature.
fn expect_func(
    module: &Module,
    name: &str,
    params: &[&str],
    results: &[&str],
    what: &str,
) -> Result<(), PublishError> {
    match module.get_export(name) {
        Some(ExternType::Func(f)) if has_sig(&f, params, results) => Ok(()),
        found => {
            let want = wat(&FuncType::new(
                module.engine(),
                params.iter().map(|p| val_type(p)),
                results.iter().map(|r| val_type(r)),
            ));
            Err(PublishError::MissingExport {
                export: name.into(),
                detail: format!("{what} needs {want}, found {}", describe(found)),
            })
        }
    }
}

fn val_type(name: &str) -> wasmtime::ValType {
    match name {
        "i32" => wasmtime::ValType::I32,
        _ => wasmtime::ValType::I64,
    }
}

/// The memory, `interstice_alloc` and `interstice_describe`: what every
/// module exports for the host to read its schema.
pub(crate) fn base_exports(module: &Module) -> Result<(), PublishError> {
    if !matches!(
        module.get_export(exports::MEMORY),
        Some(ExternType::Memory(_))
    ) {
        return Err(PublishError::MissingExport {
            export: exports::MEMORY.into(),
            detail: format!(
                "the module's linear memory, found {}",
                describe(module.get_export(exports::MEMORY))
            ),
        });
    }
    expect_func(module, exports::ALLOC, &["i32"], &["i32"], "the allocator")?;
    expect_func(
        module,
        exports::DESCRIBE,
        &[],
        &["i64"],
        "the schema export",
    )
}

/// Every reducer the schema declares has its export.
pub(crate) fn reducer_exports(module: &Module, schema: &ModuleSchema) -> Result<(), PublishError> {
    for r in &schema.reducers {
        let name = exports::reducer_export(&r.name);
        expect_func(
            module,
            &name,
            &["i32", "i32"],
            &["i64"],
            &format!("reducer `{}`", r.name),
        )?;
    }
    Ok(())
}

/// Every export that looks like a reducer is declared in the schema (a
/// typo on one side or the other). Checked when publishing, not when
/// loading a module a log already holds.
pub(crate) fn undeclared_reducers(
    module: &Module,
    schema: &ModuleSchema,
) -> Result<(), PublishError> {
    let undeclared: Vec<String> = module
        .exports()
        .filter_map(|e| e.name().strip_prefix(exports::REDUCER_PREFIX))
        .filter(|name| !schema.reducers.iter().any(|r| r.name == *name))
        .map(|name| format!("`{}{name}`", exports::REDUCER_PREFIX))
        .collect();
    if !undeclared.is_empty() {
        return Err(PublishError::MissingExport {
            export: undeclared.join(", "),
            detail: "exported like a reducer, but the schema declares no reducer of that name"
                .into(),
        });
    }
    Ok(())
}

/// Imports come only from `interstice`, name host functions, and have the
/// host's signatures (`host` maps each name to its type).
pub(crate) fn imports(
    module: &Module,
    host: &HashMap<String, FuncType>,
) -> Result<(), PublishError> {
    // Every foreign import at once, so one report lists them all.
    let foreign: Vec<String> = module
        .imports()
        .filter(|i| i.module() != "interstice")
        .map(|i| format!("`{}.{}`", i.module(), i.name()))
        .collect();
    if !foreign.is_empty() {
        return Err(PublishError::bad_imports(format!(
            "{} (modules may import only from `interstice`; no WASI)",
            foreign.join(", ")
        )));
    }
    let mut problems = Vec::new();
    for i in module.imports() {
        let name = i.name();
        match (host.get(name), i.ty()) {
            (None, _) => {
                let mut names: Vec<&str> = host.keys().map(String::as_str).collect();
                names.sort_unstable();
                problems.push(format!(
                    "`interstice.{name}` is not a host function (the host provides: {})",
                    names.join(", ")
                ));
            }
            (Some(want), ExternType::Func(found)) if FuncType::eq(want, &found) => {}
            (Some(want), found) => problems.push(format!(
                "`interstice.{name}`: the module declares {}, the host provides {}",
                describe(Some(found)),
                wat(want)
            )),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PublishError::bad_imports(problems.join("; ")))
    }
}
