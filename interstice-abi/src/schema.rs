//! What a module declares: its tables, reducers, subscriptions and
//! dependencies. Modules export it (encoded) from `interstice_describe`;
//! the host validates it, logs it in the module record, and hashes it.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ty::Type;

/// The ABI version this crate implements. A module built against another
/// version is refused at publish.
pub const ABI_VERSION: u32 = 1;

/// Deepest nesting of types accepted in a schema (guards recursion).
pub const MAX_TYPE_DEPTH: usize = 32;

/// A module's whole schema. It has no serde implementation of its own:
/// it is encoded with [`crate::encode_schema`] and decoded with
/// [`crate::decode_schema`], which choose its layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleSchema {
    /// Module name: letters, digits and `_`, starting with a letter.
    pub name: String,
    /// The module's own version.
    pub version: Version,
    /// The ABI version it was built against ([`ABI_VERSION`]).
    pub abi_version: u32,
    /// Its tables; a table's id is its position here plus one.
    pub tables: Vec<TableSchema>,
    /// Its reducers.
    pub reducers: Vec<ReducerSchema>,
    /// Reducers to run when another (or this) module's table changes.
    pub subscriptions: Vec<SubscriptionSchema>,
    /// Modules whose public reducers this one may call.
    pub dependencies: Vec<Dependency>,
    /// Reducers that rewrite a table's rows when its version moves on
    /// (docs/migrations.md).
    pub migrations: Vec<MigrationSchema>,
    /// Tables an earlier version had that this one drops on purpose (their
    /// rows go; the log keeps their history).
    pub dropped_tables: Vec<String>,
}

/// "When table `table` moves from version `from`, run `reducer`": it reads
/// the rows in their old shape (`old_columns`) and writes them in the new
/// one, in the transaction that publishes the new version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationSchema {
    /// The reducer (no parameters besides its context).
    pub reducer: String,
    /// The table, by its new name.
    pub table: String,
    /// The version it migrates from.
    pub from: u32,
    /// The old rows' columns, as the module declares them; they must match
    /// the published version's.
    pub old_columns: Vec<ColumnSchema>,
}

/// A semantic version `major.minor.patch`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Version {
    /// Incompatible changes.
    pub major: u64,
    /// Compatible additions.
    pub minor: u64,
    /// Fixes.
    pub patch: u64,
}

/// Whether other modules may use a table or reducer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Visibility {
    /// Only the owning module.
    #[default]
    Private,
    /// Any module (reads for tables; calls, with a declared dependency,
    /// for reducers).
    Public,
}

/// A table: typed columns, a primary key, secondary indexes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Table name, unique in the module.
    pub name: String,
    /// Columns in row order.
    pub columns: Vec<ColumnSchema>,
    /// Index of the primary-key column.
    pub primary_key: u16,
    /// The host assigns the primary key (an integer column) on insert when
    /// the row carries 0.
    pub auto_inc: bool,
    /// Secondary indexes.
    pub indexes: Vec<IndexSchema>,
    /// Who may read it.
    pub visibility: Visibility,
    /// The table's version: 1 until its author raises it, which allows
    /// dropping columns and, with a migration, any change.
    #[serde(default = "first_version")]
    pub version: u32,
    /// The name it had in the module's previous version, if this version
    /// renames it.
    #[serde(default)]
    pub renamed_from: Option<String>,
    /// When set, the table is a schedule: each row asks for a call of a
    /// reducer at the time its [`ScheduleSchema::at`] column says.
    #[serde(default)]
    pub schedule: Option<ScheduleSchema>,
}

/// What makes a table a schedule: inserting a row schedules a call of
/// `reducer` with the row, at the time (or every interval) its `at` column
/// holds, a [`schedule_at_type`] value; deleting the row cancels it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSchema {
    /// The reducer to call (it takes the row).
    pub reducer: String,
    /// The position of the column that says when.
    pub at: u16,
}

/// The type of a schedule's `at` column (the SDK's `ScheduleAt`): `Time`,
/// a point in time in µs since the Unix epoch, or `Interval`, a period in
/// µs.
pub fn schedule_at_type() -> Type {
    Type::Enum(crate::ty::EnumType {
        name: "ScheduleAt".into(),
        variants: vec![
            crate::ty::Variant {
                name: "Time".into(),
                ty: Type::U64,
            },
            crate::ty::Variant {
                name: "Interval".into(),
                ty: Type::U64,
            },
        ],
    })
}

/// A table's version when it says none.
fn first_version() -> u32 {
    1
}

impl TableSchema {
    /// Table `name` at version 1 with `columns`, keyed by column
    /// `primary_key`, private, without indexes.
    pub fn new(name: impl Into<String>, columns: Vec<ColumnSchema>, primary_key: u16) -> Self {
        Self {
            name: name.into(),
            columns,
            primary_key,
            auto_inc: false,
            indexes: Vec::new(),
            visibility: Visibility::Private,
            version: 1,
            renamed_from: None,
            schedule: None,
        }
    }
}

/// A column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// Column name, unique in the table.
    pub name: String,
    /// Column type.
    pub ty: Type,
    /// The value that rows written before the column existed take, encoded
    /// in its type.
    #[serde(default)]
    pub default: Option<Vec<u8>>,
    /// The name it had in the table's previous version, if this version
    /// renames it.
    #[serde(default)]
    pub renamed_from: Option<String>,
}

impl ColumnSchema {
    /// Column `name` of type `ty`.
    pub fn new(name: impl Into<String>, ty: Type) -> Self {
        Self {
            name: name.into(),
            ty,
            default: None,
            renamed_from: None,
        }
    }
}

/// A secondary index over one or several columns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSchema {
    /// Index name, unique in the table.
    pub name: String,
    /// The indexed columns, in key order.
    pub columns: Vec<u16>,
    /// At most one row per key.
    pub unique: bool,
}

impl IndexSchema {
    /// Index `name` over `columns` (positions, in key order).
    pub fn new(name: impl Into<String>, columns: Vec<u16>, unique: bool) -> Self {
        Self {
            name: name.into(),
            columns,
            unique,
        }
    }
}

/// A reducer: a deterministic function that may mutate tables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReducerSchema {
    /// Reducer name, unique in the module.
    pub name: String,
    /// Parameters, in call order.
    pub params: Vec<ParamSchema>,
    /// Whether other modules may call it.
    pub visibility: Visibility,
    /// It never mutates a table (the SDK enforces it by type).
    pub read_only: bool,
}

/// A reducer parameter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamSchema {
    /// Parameter name.
    pub name: String,
    /// Parameter type.
    pub ty: Type,
}

/// A change to a table that a subscription reacts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TableEvent {
    /// A row was inserted.
    Insert,
    /// A row was updated.
    Update,
    /// A row was deleted.
    Delete,
}

/// "Run `reducer` when `module.table` sees `event`".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionSchema {
    /// The reducer of this module to run; it takes the row as its one
    /// parameter (for updates: the new row).
    pub reducer: String,
    /// The module owning the table.
    pub module: String,
    /// The table.
    pub table: String,
    /// The event.
    pub event: TableEvent,
}

/// A module this one calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// Its name.
    pub module: String,
    /// The oldest version that will do (same major version required).
    pub min_version: Version,
}

/// A module, table or reducer asked for by name that is not there; the
/// message lists the names there are.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotFound {
    /// No module of that name (in a log, or on a node).
    Module {
        /// The name asked for.
        name: String,
        /// The modules there are.
        known: Vec<String>,
    },
    /// The module has no table of that name.
    Table {
        /// The module.
        module: String,
        /// The name asked for.
        name: String,
        /// Its tables.
        known: Vec<String>,
    },
    /// The module has no reducer of that name.
    Reducer {
        /// The module.
        module: String,
        /// The name asked for.
        name: String,
        /// Its reducers.
        known: Vec<String>,
    },
}

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Module { name, known } if known.is_empty() => write!(
                f,
                "no module `{name}`: the log has no modules yet (publish one first)"
            ),
            Self::Module { name, known } => {
                write!(f, "no module `{name}`; the log has: {}", known.join(", "))
            }
            Self::Table {
                module,
                name,
                known,
            } => write!(
                f,
                "module `{module}` has no table `{name}`; it has: {}",
                known.join(", ")
            ),
            Self::Reducer {
                module,
                name,
                known,
            } => write!(
                f,
                "module `{module}` has no reducer `{name}`; it has: {}",
                known.join(", ")
            ),
        }
    }
}

impl std::error::Error for NotFound {}

/// A schema rule that a module breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {problem}")]
pub struct SchemaError {
    /// Where (e.g. `table users`, `reducer add`).
    pub place: String,
    /// What is wrong.
    pub problem: String,
}

pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

impl TableSchema {
    /// The rules of one table: a valid name unique among `names`, columns (unique, valid names,
    /// bounded type depth), an existing primary key (an integer if
    /// `auto_inc`), and indexes over existing columns.
    fn check<'a>(&'a self, place: &str, names: &mut HashSet<&'a str>, out: &mut Problems) {
        if !valid_name(&self.name) {
            out.add(place, "invalid name");
        }
        out.unique(names, &self.name, place, "");
        if self.columns.is_empty() {
            out.add(place, "has no columns");
        }
        let mut cols = HashSet::new();
        for c in &self.columns {
            if !valid_name(&c.name) {
                out.add(place, format!("column `{}` has an invalid name", c.name));
            }
            out.unique(&mut cols, &c.name, place, &format!("column `{}` ", c.name));
            if c.ty.depth() > MAX_TYPE_DEPTH {
                out.add(
                    place,
                    format!(
                        "column `{}` nests types deeper than {MAX_TYPE_DEPTH}",
                        c.name
                    ),
                );
            }
        }
        match self.columns.get(self.primary_key as usize) {
            None => out.add(
                place,
                format!("primary key column {} does not exist", self.primary_key),
            ),
            Some(pk) if self.auto_inc && !pk.ty.is_integer() => out.add(
                place,
                format!(
                    "auto_inc primary key `{}` must be an integer, not {}",
                    pk.name, pk.ty
                ),
            ),
            Some(_) => {}
        }
        let mut indexes = HashSet::new();
        for ix in &self.indexes {
            out.unique(
                &mut indexes,
                &ix.name,
                place,
                &format!("index `{}` ", ix.name),
            );
            if ix.columns.is_empty() {
                out.add(place, format!("index `{}` has no columns", ix.name));
            }
            if let Some(c) = ix
                .columns
                .iter()
                .find(|&&c| c as usize >= self.columns.len())
            {
                out.add(
                    place,
                    format!("index `{}` names column {c}, which does not exist", ix.name),
                );
            }
        }
    }
}

impl ModuleSchema {
    /// The rules of schedule tables: an auto-increment key, an `at` column
    /// of [`schedule_at_type`], and a writing reducer that takes the row.
    fn check_schedules(&self, out: &mut Problems) {
        for t in &self.tables {
            let Some(sch) = &t.schedule else {
                continue;
            };
            let place = format!("table `{}`", t.name);
            if !t.auto_inc {
                out.add(&place, "a schedule table has an auto_inc primary key");
            }
            match t.columns.get(sch.at as usize) {
                None => out.add(
                    &place,
                    format!("its schedule's column {} does not exist", sch.at),
                ),
                Some(c) if c.ty != schedule_at_type() => out.add(
                    &place,
                    format!(
                        "its schedule's column `{}` is a {}, not a ScheduleAt",
                        c.name, c.ty
                    ),
                ),
                Some(_) => {}
            }
            match self.reducer(&sch.reducer) {
                None => out.add(
                    &place,
                    format!(
                        "its schedule calls `{}`, which is not a reducer",
                        sch.reducer
                    ),
                ),
                Some(r) if r.read_only || r.params.len() != 1 || !takes_row(&r.params[0].ty, t) => {
                    out.add(
                        &place,
                        format!(
                            "its schedule calls `{}`, which must write and take the table's row",
                            sch.reducer
                        ),
                    )
                }
                Some(_) => {}
            }
        }
    }
}

/// Whether `ty` is a row of `table`: a struct of its columns, in order
/// (whatever the struct's name: the SDK names it after the Rust type).
fn takes_row(ty: &Type, table: &TableSchema) -> bool {
    match (ty, table.row_type()) {
        (Type::Struct(given), Type::Struct(row)) => given.fields == row.fields,
        _ => false,
    }
}

impl ReducerSchema {
    /// The rules of one reducer: a valid name unique among `names`, unique parameters of bounded
    /// type depth.
    fn check<'a>(&'a self, place: &str, names: &mut HashSet<&'a str>, out: &mut Problems) {
        if !valid_name(&self.name) {
            out.add(place, "invalid name");
        }
        out.unique(names, &self.name, place, "");
        let mut params = HashSet::new();
        for p in &self.params {
            out.unique(
                &mut params,
                &p.name,
                place,
                &format!("parameter `{}` ", p.name),
            );
            if p.ty.depth() > MAX_TYPE_DEPTH {
                out.add(
                    place,
                    format!(
                        "parameter `{}` nests types deeper than {MAX_TYPE_DEPTH}",
                        p.name
                    ),
                );
            }
        }
    }
}

/// The broken rules found so far, in the order found.
#[derive(Default)]
pub(crate) struct Problems(Vec<SchemaError>);

impl Problems {
    pub(crate) fn add(&mut self, place: &str, problem: impl Into<String>) {
        self.0.push(SchemaError {
            place: place.to_owned(),
            problem: problem.into(),
        });
    }

    /// A name must be unique among `seen`.
    fn unique<'a>(&mut self, seen: &mut HashSet<&'a str>, name: &'a str, place: &str, what: &str) {
        if !seen.insert(name) {
            self.add(place, format!("{what}declared twice"));
        }
    }
}

impl ModuleSchema {
    /// Checks every rule of a schema and returns every broken one.
    pub fn validate(&self) -> Result<(), Vec<SchemaError>> {
        let mut out = Problems::default();
        let place = format!("module `{}`", self.name);
        if !valid_name(&self.name) {
            out.add(
                &place,
                "name must be letters, digits and `_`, starting with a letter, at most 64 bytes",
            );
        }
        if self.abi_version != ABI_VERSION {
            out.add(
                &place,
                format!(
                    "built for ABI version {}, this host speaks {ABI_VERSION}",
                    self.abi_version
                ),
            );
        }
        let mut tables = HashSet::new();
        for t in &self.tables {
            let place = format!("table `{}`", t.name);
            t.check(&place, &mut tables, &mut out);
        }
        let mut reducers = HashSet::new();
        for r in &self.reducers {
            let place = format!("reducer `{}`", r.name);
            r.check(&place, &mut reducers, &mut out);
        }
        for s in &self.subscriptions {
            self.check_subscription(s, &mut out);
        }
        self.check_evolution(&mut out);
        self.check_schedules(&mut out);
        let mut deps = HashSet::new();
        for d in &self.dependencies {
            let place = format!("dependency `{}`", d.module);
            out.unique(&mut deps, &d.module, &place, "");
            if d.module == self.name {
                out.add(&place, "a module cannot depend on itself");
            }
        }
        if out.0.is_empty() { Ok(()) } else { Err(out.0) }
    }

    /// A subscription runs an existing one-parameter reducer, on an
    /// existing table if it is this module's.
    fn check_subscription(&self, s: &SubscriptionSchema, out: &mut Problems) {
        let place = format!("subscription {}.{}.{:?}", s.module, s.table, s.event);
        match self.reducer(&s.reducer) {
            None => out.add(&place, format!("reducer `{}` does not exist", s.reducer)),
            Some(r) if r.params.len() != 1 => out.add(
                &place,
                format!(
                    "reducer `{}` must take exactly one parameter (the row)",
                    s.reducer
                ),
            ),
            Some(_) => {}
        }
        if s.module == self.name && self.table(&s.table).is_none() {
            out.add(&place, format!("table `{}` does not exist", s.table));
        }
    }

    /// The table named `name` and its id (position + 1).
    pub fn table(&self, name: &str) -> Option<(u32, &TableSchema)> {
        self.tables
            .iter()
            .position(|t| t.name == name)
            .map(|i| (i as u32 + 1, &self.tables[i]))
    }

    /// The reducer named `name`.
    pub fn reducer(&self, name: &str) -> Option<&ReducerSchema> {
        self.reducers.iter().find(|r| r.name == name)
    }

    /// The table named `name` and its id, or an error listing the tables
    /// there are.
    pub fn find_table(&self, name: &str) -> Result<(u32, &TableSchema), NotFound> {
        self.table(name).ok_or_else(|| NotFound::Table {
            module: self.name.clone(),
            name: name.to_owned(),
            known: self.tables.iter().map(|t| t.name.clone()).collect(),
        })
    }

    /// The reducer named `name`, or an error listing the reducers there
    /// are.
    pub fn find_reducer(&self, name: &str) -> Result<&ReducerSchema, NotFound> {
        self.reducer(name).ok_or_else(|| NotFound::Reducer {
            module: self.name.clone(),
            name: name.to_owned(),
            known: self.reducers.iter().map(|r| r.name.clone()).collect(),
        })
    }

    /// A hash of the whole schema: equal schemas hash equal, and any
    /// change changes it (up to 64-bit collisions). Taken of
    /// [`crate::encode_schema`]'s bytes, so a schema that fits the version
    /// 1 layout hashes as it always has.
    pub fn hash(&self) -> u64 {
        let bytes = crate::encode_schema(self).expect("schemas always encode");
        xxhash_rust::xxh3::xxh3_64(&bytes)
    }
}

impl TableSchema {
    /// A hash of the table's schema, stored with every mutation of it (of
    /// the version 1 layout when the table fits it, as for
    /// [`ModuleSchema::hash`]).
    pub fn hash(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.hashed_bytes())
    }

    /// The primary-key column.
    pub fn primary_key_column(&self) -> &ColumnSchema {
        &self.columns[self.primary_key as usize]
    }

    /// The row type: a struct of the columns.
    pub fn row_type(&self) -> Type {
        Type::Struct(crate::ty::StructType {
            name: self.name.clone(),
            fields: self
                .columns
                .iter()
                .map(|c| crate::ty::Field {
                    name: c.name.clone(),
                    ty: c.ty.clone(),
                })
                .collect(),
        })
    }
}

impl ReducerSchema {
    /// The argument list's type: a struct of the parameters.
    pub fn args_type(&self) -> Type {
        Type::Struct(crate::ty::StructType {
            name: format!("{}(args)", self.name),
            fields: self
                .params
                .iter()
                .map(|p| crate::ty::Field {
                    name: p.name.clone(),
                    ty: p.ty.clone(),
                })
                .collect(),
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('.').collect();
        let [major, minor, patch] = parts[..] else {
            return Err(format!("version `{s}` is not major.minor.patch"));
        };
        let n = |p: &str| {
            p.parse::<u64>()
                .map_err(|_| format!("version `{s}` is not major.minor.patch"))
        };
        Ok(Self {
            major: n(major)?,
            minor: n(minor)?,
            patch: n(patch)?,
        })
    }
}

impl fmt::Display for TableEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Insert => "insert",
            Self::Update => "update",
            Self::Delete => "delete",
        })
    }
}

/// A record of the schema, to name the fields of a decoding position.
#[derive(Clone, Copy)]
enum Record {
    Module,
    Version,
    Table,
    Column,
    Index,
    Reducer,
    Param,
    Subscription,
    Dependency,
    Migration,
}

/// What a field holds: a value, a record, or a list of records.
#[derive(Clone, Copy)]
enum Field {
    Value,
    One(Record),
    List(Record),
}

impl Record {
    /// The record's fields in encoding order (`docs/abi.md`).
    fn fields(self) -> &'static [(&'static str, Field)] {
        use Field::{List, One, Value};
        match self {
            Record::Module => &[
                ("name", Value),
                ("version", One(Record::Version)),
                ("abi_version", Value),
                ("tables", List(Record::Table)),
                ("reducers", List(Record::Reducer)),
                ("subscriptions", List(Record::Subscription)),
                ("dependencies", List(Record::Dependency)),
                ("migrations", List(Record::Migration)),
                ("dropped_tables", Value),
            ],
            Record::Version => &[("major", Value), ("minor", Value), ("patch", Value)],
            Record::Table => &[
                ("name", Value),
                ("columns", List(Record::Column)),
                ("primary_key", Value),
                ("auto_inc", Value),
                ("indexes", List(Record::Index)),
                ("visibility", Value),
                ("version", Value),
                ("renamed_from", Value),
            ],
            Record::Column => &[
                ("name", Value),
                ("ty", Value),
                ("default", Value),
                ("renamed_from", Value),
            ],
            Record::Param => &[("name", Value), ("ty", Value)],
            Record::Migration => &[
                ("reducer", Value),
                ("table", Value),
                ("from", Value),
                ("old_columns", List(Record::Column)),
            ],
            Record::Index => &[("name", Value), ("columns", Value), ("unique", Value)],
            Record::Reducer => &[
                ("name", Value),
                ("params", List(Record::Param)),
                ("visibility", Value),
                ("read_only", Value),
            ],
            Record::Subscription => &[
                ("reducer", Value),
                ("module", Value),
                ("table", Value),
                ("event", Value),
            ],
            Record::Dependency => &[("module", Value), ("min_version", One(Record::Version))],
        }
    }
}

/// Names a position in an encoded [`ModuleSchema`] (field positions and
/// list indexes, outermost first) as `tables[0].columns[1].ty`; positions
/// inside a value (a type) follow as `[i]`.
pub(crate) fn field_path(positions: &[usize]) -> String {
    let mut out = String::new();
    let mut at = Some(Field::One(Record::Module));
    for &i in positions {
        match at {
            Some(Field::One(record)) => match record.fields().get(i) {
                Some((name, field)) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                    at = Some(*field);
                }
                None => {
                    out.push_str(&format!("[{i}]"));
                    at = None;
                }
            },
            Some(Field::List(record)) => {
                out.push_str(&format!("[{i}]"));
                at = Some(Field::One(record));
            }
            Some(Field::Value) | None => {
                out.push_str(&format!("[{i}]"));
                at = None;
            }
        }
    }
    if out.is_empty() {
        out.push_str("(the schema itself)");
    }
    out
}

#[cfg(test)]
mod path_tests {
    use super::field_path;

    #[test]
    fn positions_are_named_as_an_author_writes_them() {
        assert_eq!(field_path(&[3, 0, 1, 1, 1]), "tables[0].columns[1].ty");
        assert_eq!(field_path(&[4, 8, 0]), "reducers[8].name");
        assert_eq!(
            field_path(&[6, 0, 1, 2]),
            "dependencies[0].min_version.patch"
        );
        assert_eq!(
            field_path(&[3, 2, 1, 0, 1, 5]),
            "tables[2].columns[0].ty[5]"
        );
        assert_eq!(field_path(&[]), "(the schema itself)");
    }
}
