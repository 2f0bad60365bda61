//! How schemas are encoded now that they can say how a module evolves
//! (table versions, column defaults and renames, migrations, dropped
//! tables), while every schema logged before still decodes and hashes as
//! it did.
//!
//! A schema that uses none of those (every table at version 1, no default,
//! rename, migration or dropped table) is encoded as before: the *version
//! 1* layout, byte for byte, so its hash and every hash logged with its
//! rows stay the same. Any other schema is a *version 2* encoding: a zero
//! byte (a version 1 encoding starts with the module name's non-zero
//! length), the byte `2`, then the whole [`ModuleSchema`]. `docs/abi.md`
//! has both layouts.

use serde::{Deserialize, Serialize};

use crate::encoding::{EncodingError, decode, encode};
use crate::schema::{
    ColumnSchema, Dependency, IndexSchema, MigrationSchema, ModuleSchema, Problems, ReducerSchema,
    SubscriptionSchema, TableSchema, Version, Visibility, valid_name,
};
use crate::ty::Type;

/// The first bytes of a version 2 schema encoding.
const V2_TAG: [u8; 2] = [0, 2];

/// The first bytes of a version 3 schema encoding (a schedule table).
const V3_TAG: [u8; 2] = [0, 3];

/// Which layout a schema's bytes are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    V1,
    V2,
    V3,
}

/// The version 1 layout of a module schema.
#[derive(Serialize, Deserialize)]
pub(crate) struct ModuleV1 {
    name: String,
    version: Version,
    abi_version: u32,
    tables: Vec<TableV1>,
    reducers: Vec<ReducerSchema>,
    subscriptions: Vec<SubscriptionSchema>,
    dependencies: Vec<Dependency>,
}

/// The module record of layouts 2 and 3 (after the tag): every field, its
/// tables as `T` ([`TableV2`] in layout 2, [`TableSchema`] in layout 3).
#[derive(Serialize, Deserialize)]
pub(crate) struct ModuleLayout<T> {
    name: String,
    version: Version,
    abi_version: u32,
    tables: Vec<T>,
    reducers: Vec<ReducerSchema>,
    subscriptions: Vec<SubscriptionSchema>,
    dependencies: Vec<Dependency>,
    #[serde(default)]
    migrations: Vec<MigrationSchema>,
    #[serde(default)]
    dropped_tables: Vec<String>,
}

/// The version 2 layout of a module schema: every field but schedules.
pub(crate) type ModuleV2 = ModuleLayout<TableV2>;

/// The version 3 layout of a module schema: every field.
pub(crate) type ModuleV3 = ModuleLayout<TableSchema>;

/// The version 2 layout of a table: every field but the schedule.
#[derive(Serialize, Deserialize)]
pub(crate) struct TableV2 {
    name: String,
    columns: Vec<ColumnSchema>,
    primary_key: u16,
    auto_inc: bool,
    indexes: Vec<IndexSchema>,
    visibility: Visibility,
    version: u32,
    renamed_from: Option<String>,
}

impl From<TableSchema> for TableV2 {
    fn from(t: TableSchema) -> Self {
        TableV2 {
            name: t.name,
            columns: t.columns,
            primary_key: t.primary_key,
            auto_inc: t.auto_inc,
            indexes: t.indexes,
            visibility: t.visibility,
            version: t.version,
            renamed_from: t.renamed_from,
        }
    }
}

impl From<TableV2> for TableSchema {
    fn from(t: TableV2) -> Self {
        TableSchema {
            name: t.name,
            columns: t.columns,
            primary_key: t.primary_key,
            auto_inc: t.auto_inc,
            indexes: t.indexes,
            visibility: t.visibility,
            version: t.version,
            renamed_from: t.renamed_from,
            schedule: None,
        }
    }
}

impl<T: From<TableSchema>> From<&ModuleSchema> for ModuleLayout<T> {
    fn from(m: &ModuleSchema) -> Self {
        let m = m.clone();
        ModuleLayout {
            name: m.name,
            version: m.version,
            abi_version: m.abi_version,
            tables: m.tables.into_iter().map(T::from).collect(),
            reducers: m.reducers,
            subscriptions: m.subscriptions,
            dependencies: m.dependencies,
            migrations: m.migrations,
            dropped_tables: m.dropped_tables,
        }
    }
}

impl<T: Into<TableSchema>> From<ModuleLayout<T>> for ModuleSchema {
    fn from(m: ModuleLayout<T>) -> Self {
        ModuleSchema {
            name: m.name,
            version: m.version,
            abi_version: m.abi_version,
            tables: m.tables.into_iter().map(Into::into).collect(),
            reducers: m.reducers,
            subscriptions: m.subscriptions,
            dependencies: m.dependencies,
            migrations: m.migrations,
            dropped_tables: m.dropped_tables,
        }
    }
}

/// The version 1 layout of a table.
#[derive(Serialize, Deserialize)]
struct TableV1 {
    name: String,
    columns: Vec<ColumnV1>,
    primary_key: u16,
    auto_inc: bool,
    indexes: Vec<IndexSchema>,
    visibility: Visibility,
}

/// The version 1 layout of a column.
#[derive(Serialize, Deserialize)]
struct ColumnV1 {
    name: String,
    ty: Type,
}

impl ColumnSchema {
    fn v1(&self) -> Option<ColumnV1> {
        (self.default.is_none() && self.renamed_from.is_none()).then(|| ColumnV1 {
            name: self.name.clone(),
            ty: self.ty.clone(),
        })
    }
}

impl TableSchema {
    /// The table in the version 1 layout, if it says nothing that layout
    /// cannot.
    fn v1(&self) -> Option<TableV1> {
        if self.version != 1 || self.renamed_from.is_some() || self.schedule.is_some() {
            return None;
        }
        Some(TableV1 {
            name: self.name.clone(),
            columns: self
                .columns
                .iter()
                .map(ColumnSchema::v1)
                .collect::<Option<_>>()?,
            primary_key: self.primary_key,
            auto_inc: self.auto_inc,
            indexes: self.indexes.clone(),
            visibility: self.visibility,
        })
    }

    /// The bytes its hash is taken of: the version 1 layout when it fits,
    /// else the tag and the whole table.
    pub(crate) fn hashed_bytes(&self) -> Vec<u8> {
        match self.v1() {
            Some(v1) => encode(&v1),
            None if self.schedule.is_none() => {
                encode(&TableV2::from(self.clone())).map(|body| [&V2_TAG[..], &body].concat())
            }
            None => encode(self).map(|body| [&V3_TAG[..], &body].concat()),
        }
        .expect("schemas always encode")
    }
}

impl ModuleSchema {
    fn v1(&self) -> Option<ModuleV1> {
        if !self.migrations.is_empty() || !self.dropped_tables.is_empty() {
            return None;
        }
        Some(ModuleV1 {
            name: self.name.clone(),
            version: self.version,
            abi_version: self.abi_version,
            tables: self
                .tables
                .iter()
                .map(TableSchema::v1)
                .collect::<Option<_>>()?,
            reducers: self.reducers.clone(),
            subscriptions: self.subscriptions.clone(),
            dependencies: self.dependencies.clone(),
        })
    }
}

impl From<ModuleV1> for ModuleSchema {
    fn from(m: ModuleV1) -> Self {
        ModuleSchema {
            name: m.name,
            version: m.version,
            abi_version: m.abi_version,
            tables: m
                .tables
                .into_iter()
                .map(|t| TableSchema {
                    name: t.name,
                    columns: t
                        .columns
                        .into_iter()
                        .map(|c| ColumnSchema::new(c.name, c.ty))
                        .collect(),
                    primary_key: t.primary_key,
                    auto_inc: t.auto_inc,
                    indexes: t.indexes,
                    visibility: t.visibility,
                    version: 1,
                    renamed_from: None,
                    schedule: None,
                })
                .collect(),
            reducers: m.reducers,
            subscriptions: m.subscriptions,
            dependencies: m.dependencies,
            migrations: Vec::new(),
            dropped_tables: Vec::new(),
        }
    }
}

/// Encodes a module schema: the version 1 layout when it fits, else
/// version 2. What a module's `interstice_describe` returns and what a
/// module record holds.
pub fn encode_schema(schema: &ModuleSchema) -> Result<Vec<u8>, EncodingError> {
    match schema.v1() {
        Some(v1) => encode(&v1),
        None if schema.tables.iter().all(|t| t.schedule.is_none()) => {
            Ok([&V2_TAG[..], &encode(&ModuleV2::from(schema))?].concat())
        }
        None => Ok([&V3_TAG[..], &encode(&ModuleV3::from(schema))?].concat()),
    }
}

/// Decodes either layout, without locating a failure (see
/// [`crate::decode_schema`]).
pub(crate) fn decode_either(bytes: &[u8]) -> Result<ModuleSchema, EncodingError> {
    match bytes {
        [0, 2, body @ ..] => decode::<ModuleV2>(body).map(ModuleSchema::from),
        [0, 3, body @ ..] => decode::<ModuleV3>(body).map(ModuleSchema::from),
        [0, other, ..] => Err(EncodingError::Decode {
            what: "the module schema".into(),
            reason: format!("schema encoding version {other}: this host reads versions 1, 2 and 3"),
        }),
        _ => decode::<ModuleV1>(bytes).map(ModuleSchema::from),
    }
}

/// Which layout `bytes` are in (true: version 2) and the bytes of the
/// schema itself, after the tag: what a failed decoding is located in.
/// `None` for a version this host does not read.
pub(crate) fn body(bytes: &[u8]) -> Option<(Layout, &[u8])> {
    match bytes {
        [0, 2, body @ ..] => Some((Layout::V2, body)),
        [0, 3, body @ ..] => Some((Layout::V3, body)),
        [0, ..] => None,
        _ => Some((Layout::V1, bytes)),
    }
}

impl ModuleSchema {
    /// The rules of what the schema says about its evolution: table
    /// versions from 1, defaults that decode in their column's type,
    /// renames from valid other names, migrations of existing tables from
    /// an earlier version by parameterless reducers, and dropped tables
    /// the module no longer has.
    pub(crate) fn check_evolution(&self, out: &mut Problems) {
        for t in &self.tables {
            let place = format!("table `{}`", t.name);
            if t.version == 0 {
                out.add(&place, "version 0: table versions start at 1");
            }
            if let Some(old) = &t.renamed_from {
                renamed(out, &place, "the table", &t.name, old);
            }
            for c in &t.columns {
                let what = format!("column `{}`", c.name);
                if let Some(bytes) = &c.default
                    && let Err(e) = crate::decode_value(&c.ty, bytes)
                {
                    out.add(
                        &place,
                        format!("{what}: its default is not a {}: {e}", c.ty),
                    );
                }
                if let Some(old) = &c.renamed_from {
                    renamed(out, &place, &what, &c.name, old);
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for m in &self.migrations {
            let place = format!("migration `{}`", m.reducer);
            match self.reducer(&m.reducer) {
                None => out.add(&place, "no such reducer"),
                Some(r) if !r.params.is_empty() || r.read_only => out.add(
                    &place,
                    "a migration reducer writes and takes no parameters besides its context",
                ),
                Some(r) if r.visibility == Visibility::Public => out.add(
                    &place,
                    "a migration reducer is private: it runs only when its version is published",
                ),
                Some(_) => {}
            }
            if self.subscriptions.iter().any(|s| s.reducer == m.reducer) {
                out.add(
                    &place,
                    "a subscription runs it too: a migration reducer runs only when its version is published",
                );
            }
            match self.table(&m.table) {
                None => out.add(&place, format!("no table `{}`", m.table)),
                Some((_, t)) if m.from == 0 || m.from >= t.version => out.add(
                    &place,
                    format!(
                        "migrates `{}` from version {}, but the table is at version {}: a migration starts from an earlier version",
                        m.table, m.from, t.version
                    ),
                ),
                Some(_) => {}
            }
            if !seen.insert((&m.table, m.from)) {
                out.add(
                    &place,
                    format!(
                        "a second migration of `{}` from version {}",
                        m.table, m.from
                    ),
                );
            }
        }
        for d in &self.dropped_tables {
            if self.table(d).is_some() {
                out.add(
                    &format!("dropped table `{d}`"),
                    "the module still declares it",
                );
            }
        }
    }
}

/// A rename from `old` must name something else, validly.
fn renamed(out: &mut Problems, place: &str, what: &str, name: &str, old: &str) {
    if !valid_name(old) {
        out.add(
            place,
            format!("{what} is renamed from an invalid name `{old}`"),
        );
    } else if old == name {
        out.add(place, format!("{what} is renamed from its own name"));
    }
}

impl ModuleSchema {
    /// The schema with every field, for text formats (the node's JSON).
    /// Not the binary encoding: that is [`encode_schema`], which picks the
    /// layout.
    pub fn serializable(&self) -> impl Serialize {
        ModuleV3::from(self)
    }

    /// Reads what [`ModuleSchema::serializable`] wrote (fields a text
    /// written before evolution existed lacks take their defaults).
    pub fn deserialize_from<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ModuleV3::deserialize(d).map(ModuleSchema::from)
    }
}
