//! The custom types a module's client needs, named and ordered: every
//! struct and enum its public tables and reducers use, each defined once,
//! after the types inside it (TypeScript codecs are values, used in
//! order).

use std::collections::HashMap;

use heck::ToUpperCamelCase;
use interstice_abi::{ModuleSchema, StructType, TableSchema, Type, Visibility};

/// The names a module's client defines, the same in every language: its
/// public tables with their `…Row` types, the module's own type (its name
/// in UpperCamelCase, `Module` added if a row type has that name), and
/// its custom types.
pub(crate) struct ModuleNames<'a> {
    /// The public tables, in schema order.
    pub tables: Vec<&'a TableSchema>,
    /// The module's type (a Rust struct, a TypeScript class).
    pub module_type: String,
    /// The custom types, named clear of the others.
    pub types: Types<'a>,
}

impl<'a> ModuleNames<'a> {
    /// The names for `schema`, clear of `reserved` (what the client file
    /// imports) and of each other.
    pub fn new(schema: &'a ModuleSchema, reserved: &[&str]) -> Self {
        let tables: Vec<&TableSchema> = public_tables(schema).collect();
        let mut taken: Vec<String> = reserved.iter().map(|&r| r.to_owned()).collect();
        taken.extend(tables.iter().map(|t| row_name(t)));
        let mut module_type = schema.name.to_upper_camel_case();
        while taken.contains(&module_type) {
            module_type.push_str("Module");
        }
        taken.push(module_type.clone());
        let types = Types::collect(schema, &taken);
        Self {
            tables,
            module_type,
            types,
        }
    }
}

/// The name of a table's row type: `users` → `UsersRow`.
pub(crate) fn row_name(table: &TableSchema) -> String {
    format!("{}Row", table.name.to_upper_camel_case())
}

/// A struct or enum the client defines.
#[derive(Clone, Debug)]
pub(crate) struct Named<'a> {
    /// Its name in the client: the schema's, with a number added when two
    /// different types share one.
    pub name: String,
    /// The type.
    pub ty: &'a Type,
}

/// The custom types of one module.
#[derive(Debug, Default)]
pub(crate) struct Types<'a> {
    /// In definition order: inner types first.
    pub named: Vec<Named<'a>>,
    names: HashMap<&'a Type, usize>,
}

impl<'a> Types<'a> {
    /// The types used by `schema`'s public tables and reducers; `taken`
    /// are names the client already uses for other things (row types).
    pub fn collect(schema: &'a ModuleSchema, taken: &[String]) -> Self {
        let mut types = Types::default();
        let mut used: Vec<String> = taken.to_vec();
        for table in public_tables(schema) {
            for c in &table.columns {
                types.walk(&c.ty, &mut used);
            }
        }
        for reducer in public_reducers(schema) {
            for p in &reducer.params {
                types.walk(&p.ty, &mut used);
            }
        }
        types
    }

    /// The client's name for a struct or enum type.
    pub fn name(&self, ty: &Type) -> &str {
        &self.named[self.names[ty]].name
    }

    fn walk(&mut self, ty: &'a Type, used: &mut Vec<String>) {
        match ty {
            Type::Option(t) | Type::Vec(t) => self.walk(t, used),
            Type::Struct(s) => {
                for f in &s.fields {
                    self.walk(&f.ty, used);
                }
                if !s.name.is_empty() {
                    self.define(ty, &s.name, used);
                }
            }
            Type::Enum(e) => {
                for v in &e.variants {
                    match inline_payload(&v.name, &v.ty) {
                        Some(s) => s.fields.iter().for_each(|f| self.walk(&f.ty, used)),
                        None => self.walk(&v.ty, used),
                    }
                }
                self.define(ty, &e.name, used);
            }
            _ => {}
        }
    }

    fn define(&mut self, ty: &'a Type, name: &str, used: &mut Vec<String>) {
        if self.names.contains_key(ty) {
            return;
        }
        let mut unique = name.to_owned();
        let mut n = 2;
        while used.contains(&unique) {
            unique = format!("{name}{n}");
            n += 1;
        }
        used.push(unique.clone());
        self.names.insert(ty, self.named.len());
        self.named.push(Named { name: unique, ty });
    }
}

/// A variant's payload written out in the variant (`Away { since, note }`,
/// `Pair(A, B)`): a struct the SDK named after the variant. Other payloads
/// (`Churned(u64)`, `Moved(Point)`) are one value.
pub(crate) fn inline_payload<'t>(variant: &str, ty: &'t Type) -> Option<&'t StructType> {
    match ty {
        Type::Struct(s) if s.name == variant => Some(s),
        _ => None,
    }
}

/// Whether a struct's fields are positions (`0`, `1`, ...): a tuple struct
/// or variant.
pub(crate) fn is_tuple(s: &StructType) -> bool {
    !s.fields.is_empty()
        && s.fields
            .iter()
            .enumerate()
            .all(|(i, f)| f.name == i.to_string())
}

/// The tables a client sees.
pub(crate) fn public_tables(
    schema: &ModuleSchema,
) -> impl Iterator<Item = &interstice_abi::TableSchema> {
    schema
        .tables
        .iter()
        .filter(|t| t.visibility == Visibility::Public)
}

/// The reducers a client may call.
pub(crate) fn public_reducers(
    schema: &ModuleSchema,
) -> impl Iterator<Item = &interstice_abi::ReducerSchema> {
    schema
        .reducers
        .iter()
        .filter(|r| r.visibility == Visibility::Public)
}

#[cfg(test)]
mod tests {
    use super::*;
    use interstice_abi::{ColumnSchema, EnumType, Field, TableSchema, Variant, Version};

    fn point(fields: &[(&str, Type)]) -> Type {
        Type::Struct(StructType {
            name: "Point".into(),
            fields: fields
                .iter()
                .map(|(n, t)| Field {
                    name: (*n).into(),
                    ty: t.clone(),
                })
                .collect(),
        })
    }

    #[test]
    fn inner_types_come_first_and_clashing_names_are_numbered() {
        let p1 = point(&[("x", Type::I32)]);
        let p2 = point(&[("x", Type::F64)]);
        let shape = Type::Enum(EnumType {
            name: "Shape".into(),
            variants: vec![
                Variant {
                    name: "Dot".into(),
                    ty: p1.clone(),
                },
                Variant {
                    name: "Line".into(),
                    ty: Type::Struct(StructType {
                        name: "Line".into(),
                        fields: vec![Field {
                            name: "to".into(),
                            ty: p2.clone(),
                        }],
                    }),
                },
            ],
        });
        let mut table = TableSchema::new(
            "shapes",
            vec![
                ColumnSchema::new("id", Type::U64),
                ColumnSchema::new("shape", shape.clone()),
                ColumnSchema::new("at", Type::Option(Box::new(p1.clone()))),
            ],
            0,
        );
        table.visibility = Visibility::Public;
        let schema = ModuleSchema {
            name: "draw".into(),
            version: Version::default(),
            abi_version: 1,
            tables: vec![table],
            reducers: vec![],
            subscriptions: vec![],
            dependencies: vec![],
            migrations: vec![],
            dropped_tables: vec![],
        };
        let types = Types::collect(&schema, &["ShapesRow".into()]);
        let names: Vec<_> = types.named.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["Point", "Point2", "Shape"]);
        assert_eq!(types.name(&p2), "Point2");
        assert_eq!(types.name(&shape), "Shape");
    }
}
