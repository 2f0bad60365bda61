use interstice_sdk::prelude::*;

#[derive(IntersticeType, Clone, Debug, PartialEq)]
pub enum Kind {
    Plain,
    Tagged(String),
    Sized { w: u32, h: u32 },
}

#[table(name = "items", public, index(name = "by_owner_kind", columns(owner, kind)))]
pub struct Item {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[unique]
    pub code: String,
    #[index]
    pub owner: u32,
    pub kind: Kind,
    pub note: Option<Vec<String>>,
}

/// A table at its third version, renamed from `wallets`.
#[table(name = "accounts", version = 3, renamed_from = "wallets")]
pub struct Account {
    #[primary_key]
    pub id: u64,
    #[renamed_from("owner_name")]
    pub owner: String,
    #[default(0)]
    pub balance: u64,
    #[default("eur")]
    pub currency: String,
}

interstice_sdk::dropped_tables!(sessions, audit);

/// A schedule: each row asks for a call of `remind`.
#[table(name = "reminders", scheduled(reducer = "remind"))]
pub struct Reminder {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub text: String,
    pub at: ScheduleAt,
}

#[reducer(writes())]
pub fn remind(ctx: &mut ReducerContext, row: Reminder) {
    ctx.log(format!("{}", row.text));
}

/// `accounts` at version 2, as its migration reads it.
#[table_version(accounts, 2)]
pub struct AccountV2 {
    #[primary_key]
    pub id: u64,
    pub owner_name: String,
    pub cents: i64,
}

#[migration(table = "accounts", from = 2, inserts(accounts))]
pub fn accounts_from_2(ctx: &mut ReducerContext) -> Result<(), Error> {
    for old in ctx.old::<AccountV2>().iter()? {
        let old = old?;
        let balance = old.cents.max(0) as u64 / 100;
        ctx.db().accounts().insert(Account { id: old.id, owner: old.owner_name, balance, currency: "eur".into() })?;
    }
    let _one = ctx.old::<AccountV2>().get(&1)?;
    Ok(())
}

interstice_sdk::dependency! {
    pub mod other >= "1.2.0" {
        fn ping(times: u32);
    }
}

#[reducer(public, inserts(items))]
pub fn add(ctx: &mut ReducerContext, code: String, owner: u32) -> Result<(), Error> {
    let item = ctx.db().items().insert(Item { id: 0, code, owner, kind: Kind::Plain, note: None })?;
    let _found = ctx.db().items().by_code().find(&item.code)?;
    for row in ctx.db().items().by_owner().range(1..10)? {
        let _ = row?;
    }
    let _ = ctx.db().items().by_owner_kind().filter(&(owner, Kind::Plain))?;
    other::ping(ctx, 3)?;
    Ok(())
}

#[reducer(read_only)]
pub fn count(ctx: &ReadOnlyContext) -> Result<(), String> {
    let n = ctx.db().items().count()?;
    ctx.log(format!("{n} items at {}", ctx.now().micros()));
    Ok(())
}

#[reducer(on = "items.insert", writes())]
pub fn on_item(_ctx: &mut ReducerContext, row: Item) {
    let _ = row;
}

fn main() {
    assert_eq!(<Item as Table>::NAME, "items");
    assert_eq!(add::NAME, "add");
    assert_eq!(other::MODULE, "other");
    let schema = interstice_sdk::registry::module_schema().unwrap();
    let items = schema.tables.iter().find(|t| t.name == "items").unwrap();
    assert_eq!(items.indexes.len(), 3);
    assert_eq!(items.version, 1);
    let accounts = schema.tables.iter().find(|t| t.name == "accounts").unwrap();
    assert_eq!((accounts.version, accounts.renamed_from.as_deref()), (3, Some("wallets")));
    assert_eq!(accounts.columns[1].renamed_from.as_deref(), Some("owner_name"));
    assert_eq!(accounts.columns[2].default, Some(vec![0]));
    assert_eq!(accounts.columns[3].default, Some(vec![3, b'e', b'u', b'r']));
    assert_eq!(schema.dropped_tables, ["audit", "sessions"]);
    let bytes = interstice_sdk::abi::encode_schema(&schema).unwrap();
    assert_eq!(interstice_sdk::abi::decode_schema(&bytes).unwrap(), schema);
    assert_eq!(<AccountV2 as Table>::NAME, "accounts@2");
    let [m] = &schema.migrations[..] else { panic!("{:?}", schema.migrations) };
    assert_eq!((m.reducer.as_str(), m.table.as_str(), m.from), ("accounts_from_2", "accounts", 2));
    let old: Vec<&str> = m.old_columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(old, ["id", "owner_name", "cents"]);
    assert!(schema.validate().is_ok(), "{:?}", schema.validate());
    let reminders = schema.tables.iter().find(|t| t.name == "reminders").unwrap();
    let sch = reminders.schedule.as_ref().unwrap();
    assert_eq!((sch.reducer.as_str(), sch.at), ("remind", 2));
    let mut bytes = Vec::new();
    ScheduleAt::Interval(std::time::Duration::from_secs(2)).encode(&mut bytes);
    assert_eq!(ScheduleAt::decode(&mut &bytes[..]).unwrap(), ScheduleAt::Interval(std::time::Duration::from_secs(2)));
    assert_eq!(schema.reducers.len(), 5);
    assert_eq!(schema.subscriptions[0].module, schema.name);
    assert_eq!(schema.dependencies[0].module, "other");
}
