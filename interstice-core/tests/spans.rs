//! What the runtime tells about its calls: one span per reducer call
//! (cross-module calls as child spans) with who called and what the call
//! did, and the reducers' log lines with the commit's offset. Checked with
//! a subscriber that captures every span and event, on the real `hello`
//! and `caller` modules.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use interstice_abi::{Value, encode_value};
use interstice_backend_fs::FsLogStore;
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::LogOptions;
use interstice_testkit::built::wasm;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = BTreeMap<String, String>;

/// A span as it was when it closed, or an event.
#[derive(Clone, Debug)]
struct Captured {
    name: String,
    target: String,
    fields: Fields,
    /// The fields of the span it was in (its parent, for a span).
    parent: Option<Fields>,
}

#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<Captured>>>,
    events: Arc<Mutex<Vec<Captured>>>,
}

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Visitor(&mut fields));
        ctx.span(id).unwrap().extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let mut ext = span.extensions_mut();
        values.record(&mut Visitor(ext.get_mut::<Fields>().unwrap()));
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Visitor(&mut fields));
        let parent = ctx
            .event_span(event)
            .and_then(|s| s.extensions().get::<Fields>().cloned());
        self.events.lock().unwrap().push(Captured {
            name: event.metadata().name().into(),
            target: event.metadata().target().into(),
            fields,
            parent,
        });
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        let fields = span.extensions().get::<Fields>().cloned().unwrap();
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<Fields>().cloned());
        self.spans.lock().unwrap().push(Captured {
            name: span.name().into(),
            target: span.metadata().target().into(),
            fields,
            parent,
        });
    }
}

fn field<'a>(c: &'a Captured, name: &str) -> Option<&'a str> {
    c.fields.get(name).map(String::as_str)
}

fn name_arg(name: &str) -> Vec<u8> {
    encode_value(&Value::Struct(vec![Value::String(name.into())])).unwrap()
}

async fn runtime(dir: &std::path::Path) -> Runtime {
    let store = FsLogStore::open(dir, LogOptions::default().create(true)).unwrap();
    let (rt, _) = Runtime::open(Arc::new(store), RuntimeConfig::default())
        .await
        .unwrap();
    rt.publish(&wasm("hello")).await.unwrap();
    rt.publish(&wasm("caller")).await.unwrap();
    rt
}

/// A client call, the cross-module call inside it and the subscription
/// it triggers each have a span with their caller, figures and outcome.
#[tokio::test]
async fn every_call_has_a_span_with_its_caller_figures_and_outcome() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(capture.clone())
        .with(tracing_subscriber::filter::LevelFilter::DEBUG);
    // Global, not per thread: a thread-local subscriber can miss
    // callsites whose interest another thread's test settled first. This
    // file holds one test for that reason.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(&tmp.path().join("log")).await;

    let receipt = rt.call("caller", "greet", &name_arg("ada")).await.unwrap();
    let offset = receipt.offset.unwrap().to_string();
    rt.settle().await;
    let err = rt.call("caller", "greet_then_fail", &name_arg("bob")).await;
    assert!(err.is_err());
    rt.shutdown().await;

    let spans = capture.spans.lock().unwrap().clone();
    let calls: Vec<&Captured> = spans.iter().filter(|s| s.name == "call").collect();
    assert!(calls.iter().all(|s| s.target == "interstice::call"));
    let find = |module: &str, reducer: &str| -> Vec<&Captured> {
        calls
            .iter()
            .copied()
            .filter(|s| field(s, "module") == Some(module) && field(s, "reducer") == Some(reducer))
            .collect()
    };

    let greet = find("caller", "greet");
    assert_eq!(greet.len(), 1, "{calls:#?}");
    let greet = greet[0];
    assert_eq!(field(greet, "caller"), Some("client"));
    assert_eq!(field(greet, "offset"), Some(offset.as_str()));
    assert_eq!(field(greet, "outcome"), Some("committed"));
    assert_eq!(
        field(greet, "rows_written"),
        Some("2"),
        "its row and hello's"
    );
    assert!(field(greet, "bytes").unwrap().parse::<u64>().unwrap() > 0);
    assert!(field(greet, "fuel").unwrap().parse::<u64>().unwrap() > 0);
    assert!(field(greet, "duration_us").is_some());
    assert!(greet.parent.is_none(), "a client call is a root span");

    let hello = find("hello", "hello");
    assert_eq!(hello.len(), 2, "once inside each caller reducer");
    let nested = hello[0];
    assert_eq!(field(nested, "caller"), Some("reducer"));
    assert_eq!(field(nested, "by"), Some("caller.greet"));
    assert_eq!(field(nested, "outcome"), Some("ok"));
    assert_eq!(field(nested, "rows_written"), Some("1"));
    assert_eq!(field(nested, "offset"), None, "only the top call commits");
    let parent = nested
        .parent
        .as_ref()
        .expect("a child of its caller's span");
    assert_eq!(parent.get("reducer").map(String::as_str), Some("greet"));

    let sub = find("hello", "on_greeting");
    assert_eq!(sub.len(), 1, "{calls:#?}");
    let sub = sub[0];
    assert_eq!(field(sub, "caller"), Some("subscription"));
    assert_eq!(field(sub, "by"), Some("hello.greetings.insert"));
    assert_eq!(field(sub, "cause"), Some(offset.as_str()));
    assert_eq!(field(sub, "outcome"), Some("committed"));

    let failed = find("caller", "greet_then_fail");
    assert_eq!(failed.len(), 1);
    assert_eq!(field(failed[0], "outcome"), Some("reducer_failed"));
    assert_eq!(field(failed[0], "offset"), None);
    assert_eq!(field(failed[0], "rows_written"), Some("0"));

    // The reducers' own log lines come with the commit's offset.
    let events = capture.events.lock().unwrap().clone();
    let logged: Vec<&Captured> = events
        .iter()
        .filter(|e| e.target == "interstice::module")
        .collect();
    let stored = logged
        .iter()
        .find(|e| field(e, "message").is_some_and(|m| m.starts_with("new greeting #1")))
        .expect("on_greeting's log line");
    assert_eq!(field(stored, "module"), Some("hello"));
    assert_eq!(field(stored, "reducer"), Some("on_greeting"));
    let sub_offset = field(sub, "offset").unwrap();
    assert_eq!(field(stored, "offset"), Some(sub_offset));
    // Subscriptions triggered, modules published, the replay: events.
    let named = |m: &str| events.iter().any(|e| field(e, "message") == Some(m));
    assert!(named("subscription triggered"));
    assert!(named("module published"));
    assert!(named("log replayed"));
}
