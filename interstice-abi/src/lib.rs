//! Types, schemas and the canonical encoding shared by the Interstice host
//! and the WebAssembly modules it runs.
//!
//! A module describes itself with a [`ModuleSchema`] (tables, reducers,
//! subscriptions, dependencies), which the SDK generates and the host
//! validates and logs. Rows and arguments travel as bytes in the one
//! [`encoding`] (specified in `docs/abi.md`): guests encode their own Rust
//! types, the host decodes them into [`Value`]s using the schema's
//! [`Type`]s. [`wasm`] holds the calling convention (export names, status
//! codes, buffer packing, log levels). [`writes`] holds what reducers
//! declare they may write, kept beside the schema. [`compat`] decides whether a new version of a schema may
//! replace an old one. This crate compiles to `wasm32-unknown-unknown` and
//! has no host-only dependencies.

pub mod compat;
pub mod encoding;
mod evolution;
mod schema;
mod ty;
mod value;
pub mod wasm;
pub mod writes;

pub use encoding::{
    EncodingError, decode, decode_schema, decode_value, encode, encode_fields, encode_value,
};
pub use evolution::encode_schema;
pub use schema::{
    ABI_VERSION, ColumnSchema, Dependency, IndexSchema, MAX_TYPE_DEPTH, MigrationSchema,
    ModuleSchema, NotFound, ParamSchema, ReducerSchema, ScheduleSchema, SchemaError,
    SubscriptionSchema, TableEvent, TableSchema, Version, Visibility, schedule_at_type,
};
pub use ty::{EnumType, Field, StructType, Type, Variant};
pub use value::{TypeMismatch, Value};
