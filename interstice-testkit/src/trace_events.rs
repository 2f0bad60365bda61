//! A strict reader of Chrome trace-event files (the JSON object format
//! that Perfetto and `chrome://tracing` load), for checking what
//! `interstice trace` writes as a viewer would read it.
//!
//! It accepts the phases a viewer draws from such a file (`X` complete
//! slices, `B`/`E` pairs, `i` instants, `M` metadata, `s`/`t`/`f` flows),
//! checks the fields each phase requires, and rebuilds what a viewer
//! shows: per track (`pid`, `tid`), slices nested by time (a slice that
//! overlaps another without containing it is refused, as it cannot be
//! drawn as a stack), and each flow as an arrow from the slice enclosing
//! its start to the slice its end binds to (`bp: "e"`: the enclosing
//! slice; otherwise the next slice to begin).

use std::collections::BTreeMap;

use serde_json::Value;

/// A slice as a viewer draws it.
#[derive(Clone, Debug, PartialEq)]
pub struct Slice {
    /// Its name.
    pub name: String,
    /// Its category.
    pub cat: String,
    /// Its track.
    pub pid: u64,
    /// Its track.
    pub tid: u64,
    /// Start, in microseconds.
    pub ts: f64,
    /// Duration, in microseconds.
    pub dur: f64,
    /// Its arguments.
    pub args: Value,
    /// The slice it is nested in (an index into [`Trace::slices`]).
    pub parent: Option<usize>,
}

/// A trace as a viewer reads it.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Every slice, by start time within its track.
    pub slices: Vec<Slice>,
    /// Flow arrows: (from slice, to slice), by index.
    pub flows: Vec<(usize, usize)>,
    /// Process and thread names from metadata events.
    pub names: Vec<String>,
}

impl Trace {
    /// The slices named `name`.
    pub fn named(&self, name: &str) -> Vec<usize> {
        (0..self.slices.len())
            .filter(|&i| self.slices[i].name == name)
            .collect()
    }

    /// The slices nested directly in slice `i`.
    pub fn children(&self, i: usize) -> Vec<usize> {
        (0..self.slices.len())
            .filter(|&c| self.slices[c].parent == Some(i))
            .collect()
    }
}

fn field<'a>(e: &'a Value, key: &str, i: usize) -> Result<&'a Value, String> {
    e.get(key)
        .ok_or_else(|| format!("event {i} has no `{key}`: {e}"))
}

fn number(e: &Value, key: &str, i: usize) -> Result<f64, String> {
    field(e, key, i)?
        .as_f64()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("event {i}: `{key}` is not a non-negative number: {e}"))
}

fn id(e: &Value, i: usize) -> Result<String, String> {
    let id = field(e, "id", i)?;
    match id {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(s.clone()),
        _ => Err(format!("event {i}: `id` is neither a number nor a string")),
    }
}

/// Reads `text` as a viewer would, or says what a viewer would refuse.
pub fn parse(text: &str) -> Result<Trace, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let events = match &doc {
        Value::Array(a) => a,
        Value::Object(o) => o
            .get("traceEvents")
            .and_then(Value::as_array)
            .ok_or("an object without a `traceEvents` array")?,
        _ => return Err("neither an array nor an object".into()),
    };
    let mut trace = Trace::default();
    let mut open: BTreeMap<(u64, u64), Vec<usize>> = BTreeMap::new();
    // Flow starts and ends by id: (ts, pid, tid, binds to enclosing).
    let mut starts: BTreeMap<String, (f64, u64, u64)> = BTreeMap::new();
    let mut ends: Vec<(String, f64, u64, u64, bool)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let ph = field(e, "ph", i)?
            .as_str()
            .ok_or(format!("event {i}: `ph` is not a string"))?;
        let pid = field(e, "pid", i)?
            .as_u64()
            .ok_or(format!("event {i}: bad `pid`"))?;
        let tid = field(e, "tid", i)?
            .as_u64()
            .ok_or(format!("event {i}: bad `tid`"))?;
        let name = field(e, "name", i)?
            .as_str()
            .ok_or(format!("event {i}: `name` is not a string"))?
            .to_owned();
        match ph {
            "M" => {
                let named = e["args"]["name"]
                    .as_str()
                    .ok_or(format!("metadata event {i} has no args.name"))?;
                trace.names.push(named.to_owned());
            }
            "X" => {
                let slice = Slice {
                    name,
                    cat: e["cat"].as_str().unwrap_or("").to_owned(),
                    pid,
                    tid,
                    ts: number(e, "ts", i)?,
                    dur: number(e, "dur", i)?,
                    args: e.get("args").cloned().unwrap_or(Value::Null),
                    parent: None,
                };
                trace.slices.push(slice);
            }
            "B" => {
                number(e, "ts", i)?;
                open.entry((pid, tid)).or_default().push(i);
            }
            "E" => {
                let begin = open
                    .get_mut(&(pid, tid))
                    .and_then(Vec::pop)
                    .ok_or(format!("event {i}: an end without a begin"))?;
                let b = &events[begin];
                let ts = number(b, "ts", begin)?;
                trace.slices.push(Slice {
                    name: b["name"].as_str().unwrap_or("").to_owned(),
                    cat: b["cat"].as_str().unwrap_or("").to_owned(),
                    pid,
                    tid,
                    ts,
                    dur: number(e, "ts", i)? - ts,
                    args: b.get("args").cloned().unwrap_or(Value::Null),
                    parent: None,
                });
            }
            "i" | "I" => {
                number(e, "ts", i)?;
            }
            "s" => {
                let id = id(e, i)?;
                if starts
                    .insert(id.clone(), (number(e, "ts", i)?, pid, tid))
                    .is_some()
                {
                    return Err(format!("event {i}: a second flow start with id {id}"));
                }
            }
            "t" | "f" => {
                let enclosing = e.get("bp").and_then(Value::as_str) == Some("e");
                ends.push((id(e, i)?, number(e, "ts", i)?, pid, tid, enclosing));
            }
            other => {
                return Err(format!(
                    "event {i}: phase `{other}` is not one a viewer draws"
                ));
            }
        }
    }
    if let Some(((pid, tid), _)) = open.iter().find(|(_, v)| !v.is_empty()) {
        return Err(format!("a begin without an end on track {pid}/{tid}"));
    }
    nest(&mut trace.slices)?;
    for (id, ts, pid, tid, enclosing) in ends {
        let &(from_ts, from_pid, from_tid) = starts
            .get(&id)
            .ok_or(format!("flow {id} ends without a start"))?;
        let from = enclosing_slice(&trace.slices, from_pid, from_tid, from_ts)
            .ok_or(format!("flow {id} starts outside every slice"))?;
        let to = if enclosing {
            enclosing_slice(&trace.slices, pid, tid, ts)
        } else {
            next_slice(&trace.slices, pid, tid, ts)
        }
        .ok_or(format!("flow {id} ends where no slice binds it"))?;
        trace.flows.push((from, to));
    }
    Ok(trace)
}

/// Sorts slices by track and start (longer first at equal starts), and
/// sets each one's parent: the innermost earlier slice that contains it.
fn nest(slices: &mut [Slice]) -> Result<(), String> {
    slices.sort_by(|a, b| {
        (a.pid, a.tid)
            .cmp(&(b.pid, b.tid))
            .then(a.ts.total_cmp(&b.ts))
            .then(b.dur.total_cmp(&a.dur))
    });
    let mut stack: Vec<usize> = Vec::new();
    for i in 0..slices.len() {
        let s = &slices[i];
        while let Some(&top) = stack.last() {
            let t = &slices[top];
            let same_track = (t.pid, t.tid) == (s.pid, s.tid);
            if same_track && s.ts < t.ts + t.dur {
                if s.ts + s.dur > t.ts + t.dur {
                    return Err(format!(
                        "slice `{}` at {} overlaps `{}` at {} without nesting in it",
                        s.name, s.ts, t.name, t.ts
                    ));
                }
                break;
            }
            stack.pop();
        }
        slices[i].parent = stack.last().copied();
        stack.push(i);
    }
    Ok(())
}

/// The innermost slice of the track that contains `ts`.
fn enclosing_slice(slices: &[Slice], pid: u64, tid: u64, ts: f64) -> Option<usize> {
    (0..slices.len())
        .filter(|&i| {
            let s = &slices[i];
            (s.pid, s.tid) == (pid, tid) && s.ts <= ts && ts <= s.ts + s.dur
        })
        .max_by(|&a, &b| slices[a].ts.total_cmp(&slices[b].ts))
}

/// The first slice of the track that starts at or after `ts`.
fn next_slice(slices: &[Slice], pid: u64, tid: u64, ts: f64) -> Option<usize> {
    (0..slices.len())
        .filter(|&i| (slices[i].pid, slices[i].tid) == (pid, tid) && slices[i].ts >= ts)
        .min_by(|&a, &b| slices[a].ts.total_cmp(&slices[b].ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_nest_and_flows_bind() {
        let t = parse(
            r#"{"traceEvents":[
            {"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},
            {"ph":"X","name":"b","pid":1,"tid":1,"ts":2,"dur":3},
            {"ph":"s","name":"f","id":7,"pid":1,"tid":1,"ts":3},
            {"ph":"f","bp":"e","name":"f","id":7,"pid":1,"tid":1,"ts":20},
            {"ph":"X","name":"c","pid":1,"tid":1,"ts":20,"dur":1}]}"#,
        )
        .unwrap();
        let (a, b, c) = (t.named("a")[0], t.named("b")[0], t.named("c")[0]);
        assert_eq!(t.slices[b].parent, Some(a));
        assert_eq!(t.children(a), vec![b]);
        assert_eq!(t.flows, vec![(b, c)]);
    }

    #[test]
    fn what_a_viewer_cannot_draw_is_refused() {
        let overlap = r#"[{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},
            {"ph":"X","name":"b","pid":1,"tid":1,"ts":5,"dur":10}]"#;
        assert!(parse(overlap).unwrap_err().contains("overlaps"));
        let no_dur = r#"[{"ph":"X","name":"a","pid":1,"tid":1,"ts":0}]"#;
        assert!(parse(no_dur).unwrap_err().contains("dur"));
        let dangling = r#"[{"ph":"f","name":"a","id":1,"pid":1,"tid":1,"ts":0}]"#;
        assert!(parse(dangling).unwrap_err().contains("without a start"));
    }
}
