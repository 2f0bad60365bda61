//! Typed client code from module schemas: what `interstice generate`
//! writes, for Rust (on the `interstice-client` crate) and TypeScript (on
//! the `@interstice/client` package in `clients/typescript`).
//!
//! The generators are pure functions from [`ModuleSchema`]s to files, so
//! the same schemas always give the same bytes: no time, no paths, no
//! machine in the output, only the module versions in each header.
//! `docs/clients.md` describes what the code offers.

mod rust;
mod types;
mod typescript;

use interstice_abi::ModuleSchema;

/// A file to write, relative to the output directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Its path under the output directory (`chat.rs`, `index.ts`).
    pub path: String,
    /// Its text.
    pub contents: String,
}

/// Why code could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Two schemas of one module name.
    #[error("module `{0}` is given twice: give each module once")]
    DuplicateModule(String),
    /// No modules.
    #[error("no modules to generate a client for")]
    NoModules,
    /// A type the client languages cannot express.
    #[error("cannot generate a client for {0}")]
    Unsupported(String),
}

/// The target language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Rust, on the `interstice-client` crate.
    Rust,
    /// TypeScript, on the `@interstice/client` package.
    TypeScript,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct Options {
    /// The language.
    pub lang: Lang,
    /// TypeScript only: where the generated files import the runtime from
    /// (default `@interstice/client`; a relative path for a copied
    /// runtime).
    pub ts_runtime: String,
}

impl Options {
    /// Defaults for `lang`.
    pub fn new(lang: Lang) -> Self {
        Self {
            lang,
            ts_runtime: "@interstice/client".into(),
        }
    }
}

/// The client files for `schemas`, sorted by module name whatever order
/// they come in.
pub fn generate(schemas: &[ModuleSchema], options: &Options) -> Result<Vec<File>, GenerateError> {
    if schemas.is_empty() {
        return Err(GenerateError::NoModules);
    }
    let mut sorted: Vec<ModuleSchema> = schemas.to_vec();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = sorted.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(GenerateError::DuplicateModule(w[0].name.clone()));
    }
    match options.lang {
        Lang::Rust => rust::generate(&sorted),
        Lang::TypeScript => typescript::generate(&sorted, &options.ts_runtime),
    }
}

/// `chat 0.1.0 and test_persistence 0.1.0`, for headers.
pub(crate) fn header_versions(schemas: &[ModuleSchema]) -> String {
    let names: Vec<String> = schemas
        .iter()
        .map(|s| format!("{} {}", s.name, s.version))
        .collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
