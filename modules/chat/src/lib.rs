//! A small chat server, and a tour of the SDK: custom types (an enum with
//! data), unique and non-unique indexes, a composite index, range scans,
//! a subscription that reacts to new messages, and a read-only reducer.

use interstice_sdk::prelude::*;

/// Whether a user is around.
#[derive(IntersticeType, Clone, Debug, PartialEq)]
pub enum Presence {
    Online,
    Away {
        since: Timestamp,
        note: Option<String>,
    },
    Offline,
}

#[table(name = "users", public)]
pub struct User {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[unique]
    pub name: String,
    pub presence: Presence,
    pub joined: Timestamp,
}

#[cfg(not(feature = "next"))]
#[table(name = "channels", public)]
pub struct Channel {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[unique]
    pub name: String,
    pub topic: Option<String>,
}

/// Version 0.2.0 (`modules/chat_next`, this source with the `next`
/// feature) adds an optional column: a compatible change, which clients
/// generated from 0.1.0 keep working across (docs/clients.md).
#[cfg(feature = "next")]
#[table(name = "channels", public)]
pub struct Channel {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[unique]
    pub name: String,
    pub topic: Option<String>,
    pub archived: Option<bool>,
}

/// A new channel row.
fn channel(name: String, topic: Option<String>) -> Channel {
    Channel {
        id: 0,
        name,
        topic,
        #[cfg(feature = "next")]
        archived: None,
    }
}

/// Messages are read per channel in time order: the composite index
/// `by_channel_sent` serves that with a range scan.
#[table(
    name = "messages",
    public,
    index(name = "by_channel_sent", columns(channel, sent))
)]
pub struct Message {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub channel: u64,
    #[index]
    pub author: u64,
    pub text: String,
    pub sent: Timestamp,
}

/// `@name` in a message, found by the `find_mentions` subscription.
#[table(name = "mentions", public)]
pub struct Mention {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index]
    pub user: u64,
    pub message: u64,
}

/// Runs once, when the module is first published (`interstice publish`,
/// `Runtime::publish_and_init`): opens #general.
#[reducer]
pub fn init(ctx: &mut ReducerContext) -> Result<(), Error> {
    ctx.db()
        .channels()
        .insert(channel("general".into(), Some("anything goes".into())))?;
    Ok(())
}

/// Registers a user; names are unique.
#[reducer(public)]
pub fn register(ctx: &mut ReducerContext, name: String) -> Result<(), String> {
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!("`{name}` is not a user name: one word, please"));
    }
    if ctx.db().users().by_name().find(&name)?.is_some() {
        return Err(format!("`{name}` is taken"));
    }
    let joined = ctx.now();
    ctx.db().users().insert(User {
        id: 0,
        name,
        presence: Presence::Online,
        joined,
    })?;
    Ok(())
}

/// Creates a channel.
#[reducer(public)]
pub fn create_channel(
    ctx: &mut ReducerContext,
    name: String,
    topic: Option<String>,
) -> Result<(), String> {
    if ctx.db().channels().by_name().find(&name)?.is_some() {
        return Err(format!("channel `{name}` exists"));
    }
    ctx.db().channels().insert(channel(name, topic))?;
    Ok(())
}

/// Posts `text` to `channel` as `user`.
#[reducer(public)]
pub fn send(
    ctx: &mut ReducerContext,
    user: String,
    channel: String,
    text: String,
) -> Result<(), String> {
    let author = ctx
        .db()
        .users()
        .by_name()
        .find(&user)?
        .ok_or_else(|| format!("no user `{user}`"))?;
    let channel = ctx
        .db()
        .channels()
        .by_name()
        .find(&channel)?
        .ok_or_else(|| format!("no channel `{channel}`"))?;
    if text.trim().is_empty() {
        return Err("empty message".into());
    }
    let sent = ctx.now();
    ctx.db().messages().insert(Message {
        id: 0,
        channel: channel.id,
        author: author.id,
        text,
        sent,
    })?;
    Ok(())
}

/// Sets a user's presence.
#[reducer(public)]
pub fn set_presence(
    ctx: &mut ReducerContext,
    user: String,
    presence: Presence,
) -> Result<(), String> {
    let mut u = ctx
        .db()
        .users()
        .by_name()
        .find(&user)?
        .ok_or_else(|| format!("no user `{user}`"))?;
    u.presence = presence;
    ctx.db().users().update(u)?;
    Ok(())
}

/// Runs after each new message: records who it mentions. It only inserts
/// into `mentions`, so it cannot trigger itself.
#[reducer(on = "chat.messages.insert", inserts(mentions))]
pub fn find_mentions(ctx: &mut ReducerContext, message: Message) -> Result<(), Error> {
    for word in message.text.split_whitespace() {
        let Some(name) = word.strip_prefix('@') else {
            continue;
        };
        let name = name.trim_end_matches(|c: char| !c.is_alphanumeric());
        if let Some(user) = ctx.db().users().by_name().find(&name.to_owned())? {
            ctx.db().mentions().insert(Mention {
                id: 0,
                user: user.id,
                message: message.id,
            })?;
        }
    }
    Ok(())
}

/// Logs a channel's message count and its latest message. Read-only: its
/// context has no way to write, so it never commits anything.
#[reducer(read_only, public)]
pub fn channel_stats(ctx: &ReadOnlyContext, channel: String) -> Result<(), String> {
    let ch = ctx
        .db()
        .channels()
        .by_name()
        .find(&channel)?
        .ok_or_else(|| format!("no channel `{channel}`"))?;
    let from = (ch.id, Timestamp(0));
    let to = (ch.id, Timestamp(u64::MAX));
    let mut count = 0u64;
    let mut last = None;
    for m in ctx.db().messages().by_channel_sent().range(from..=to)? {
        count += 1;
        last = Some(m?);
    }
    let last = last.map_or_else(|| "none".to_owned(), |m| m.text);
    ctx.log(format!("#{channel}: {count} messages, latest: {last}"));
    Ok(())
}
