// A typed subscription: a local copy of a table's rows (all, or those
// matching a filter) kept up to date from the node's event stream, read
// with fetch (so the token stays in a header, which EventSource cannot
// send) in browsers and in Node alike.
//
// The first snapshot's rows arrive as inserts without an offset, then
// `synced`. When the stream breaks (the connection, a node restart, the
// client falling behind), the subscription connects again with backoff and
// takes a new snapshot (the node cannot resume a stream), reports the net
// differences as changes without an offset, then `synced` with
// `resynced: true`: each row change is seen once.

import type { Client } from "./client.js";
import { filterQuery, offsetOf } from "./client.js";
import type { Table } from "./codec.js";
import { type Json, type JsonObject, parse, stringify } from "./json.js";

/** A change to the local copy. `offset` is the commit's, or `null` for a
 *  row of a snapshot or a difference found by a resync. */
export type Change<R> =
  | { kind: "insert"; offset: number | null; row: R }
  | { kind: "update"; offset: number | null; old: R; row: R }
  | { kind: "delete"; offset: number | null; row: R }
  | { kind: "synced"; nextOffset: number; resynced: boolean }
  | { kind: "disconnected"; reason: string };

/** Options of a subscription. */
export interface SubscribeOptions<R> {
  /** Only rows whose columns equal these values. */
  where?: Partial<R>;
  /** Called after each change is applied to the copy. */
  onChange?: (change: Change<R>, subscription: Subscription<R>) => void;
}

/** Whether events are arriving. */
export type Status = { live: true } | { live: false; reason: string; attempts: number };

const FIRST_RETRY_MS = 100;
const LAST_RETRY_MS = 5000;

/** One server-sent event. */
interface Event {
  event: string;
  data: string;
}

/** A running subscription. `close()` ends it. */
export class Subscription<R> {
  readonly #rows = new Map<string, R>();
  readonly #listeners = new Set<(change: Change<R>) => void>();
  readonly #abort = new AbortController();
  #nextOffset = 0;
  #status: Status = { live: true };

  private constructor(
    readonly client: Client,
    readonly table: Table<R>,
    readonly where: Partial<R> | undefined,
  ) {}

  /** Connects and waits for the first snapshot; an error here (the node
   *  unreachable, no such table, a bad filter) is thrown. Later breaks are
   *  handled by reconnecting. */
  static async start<R>(client: Client, table: Table<R>, options: SubscribeOptions<R> = {}): Promise<Subscription<R>> {
    const sub = new Subscription(client, table, options.where);
    const onChange = options.onChange;
    if (onChange !== undefined) sub.onChange((change) => onChange(change, sub));
    const events = await sub.#connect();
    void sub.#run(events);
    return sub;
  }

  /** Every row, in no particular order. */
  rows(): R[] {
    return [...this.#rows.values()];
  }

  /** The row whose primary key is `key`. */
  get(key: R[keyof R & string]): R | undefined {
    return this.#rows.get(this.#keyOf(key));
  }

  /** How many rows there are. */
  get size(): number {
    return this.#rows.size;
  }

  /** Every commit before this offset is reflected. */
  get nextOffset(): number {
    return this.#nextOffset;
  }

  get status(): Status {
    return this.#status;
  }

  /** Calls `listener` after each change; returns what stops it. */
  onChange(listener: (change: Change<R>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once `test` holds of the copy (checked now and after each
   *  change); rejects after `timeoutMs` when given. */
  waitUntil(test: (rows: R[]) => boolean, timeoutMs?: number): Promise<void> {
    if (test(this.rows())) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stop = this.onChange(() => {
        if (test(this.rows())) {
          stop();
          if (timer !== undefined) clearTimeout(timer);
          resolve();
        }
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          stop();
          reject(new Error(`${this.table.module}.${this.table.table}: not so after ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  /** Ends the stream; the copy stays as it is. */
  close(): void {
    this.#abort.abort();
  }

  #keyOf(key: unknown): string {
    const codec = this.table.columns[this.table.key];
    return stringify(codec.encode(key as R[keyof R & string]));
  }

  #announce(change: Change<R>): void {
    for (const listener of [...this.#listeners]) listener(change);
  }

  /** Opens the stream, applies its snapshot, and returns the events after. */
  async #connect(): Promise<AsyncGenerator<Event>> {
    const query = filterQuery(this.table, this.where);
    const response = await this.client.request(
      `/v1/modules/${this.table.module}/tables/${this.table.table}/events?${query}`,
      { headers: { Accept: "text/event-stream" }, signal: this.#abort.signal },
    );
    if (response.body === null) throw new Error("the node sent no event stream");
    const events = readEvents(response.body);
    const first = await events.next();
    if (first.done === true || first.value.event !== "snapshot") {
      throw new Error("the event stream did not begin with a snapshot");
    }
    const data = parse(first.value.data) as JsonObject;
    const rows = data["rows"];
    const nextOffset = offsetOf(data["next_offset"]);
    if (!Array.isArray(rows) || nextOffset === null) throw new Error("a snapshot without rows or next_offset");
    this.#resync(
      rows.map((r, i) => this.table.decode(r, `${this.table.table}[${i}]`)),
      nextOffset,
    );
    return events;
  }

  /** Replaces the copy with a snapshot's rows, announcing the differences. */
  #resync(rows: R[], nextOffset: number): void {
    const resynced = this.#nextOffset > 0 || this.#status.live === false;
    const fresh = new Map(rows.map((r) => [this.#keyOf(r[this.table.key]), r]));
    for (const [key, old] of [...this.#rows]) {
      const now = fresh.get(key);
      if (now === undefined) {
        this.#rows.delete(key);
        this.#announce({ kind: "delete", offset: null, row: old });
      } else if (stringify(this.table.encode(now)) !== stringify(this.table.encode(old))) {
        this.#rows.set(key, now);
        this.#announce({ kind: "update", offset: null, old, row: now });
      }
    }
    for (const [key, row] of fresh) {
      if (!this.#rows.has(key)) {
        this.#rows.set(key, row);
        this.#announce({ kind: "insert", offset: null, row });
      }
    }
    this.#nextOffset = nextOffset;
    this.#status = { live: true };
    this.#announce({ kind: "synced", nextOffset, resynced });
  }

  /** Applies events, and reconnects when the stream breaks, until closed. */
  async #run(events: AsyncGenerator<Event>): Promise<void> {
    for (;;) {
      const reason = await this.#follow(events);
      if (this.#abort.signal.aborted) return;
      this.#status = { live: false, reason, attempts: 0 };
      this.#announce({ kind: "disconnected", reason });
      let wait = FIRST_RETRY_MS;
      for (let attempts = 1; ; attempts++) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.#abort.signal.aborted) return;
        try {
          events = await this.#connect();
          break;
        } catch (e) {
          if (this.#abort.signal.aborted) return;
          this.#status = { live: false, reason: e instanceof Error ? e.message : String(e), attempts };
          wait = Math.min(wait * 2, LAST_RETRY_MS);
        }
      }
    }
  }

  /** Applies events until the stream breaks; says why it did. */
  async #follow(events: AsyncGenerator<Event>): Promise<string> {
    // Every event of a commit before the snapshot's offset is in it.
    const floor = this.#nextOffset;
    try {
      for await (const { event, data } of events) {
        const json = parse(data) as JsonObject;
        if (event === "error" || event === "close") {
          return `the node ended the stream (${event}): ${String(json["message"])}`;
        }
        if (event !== "insert" && event !== "update" && event !== "delete") continue;
        const offset = offsetOf(json["offset"]);
        if (offset === null) return "an event without an offset";
        if (offset < floor) continue;
        this.#apply(event, offset, this.table.decode(json["row"] as Json, this.table.table));
      }
      return "the node closed the stream";
    } catch (e) {
      return `the connection broke: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  #apply(kind: "insert" | "update" | "delete", offset: number, row: R): void {
    const key = this.#keyOf(row[this.table.key]);
    const old = this.#rows.get(key);
    this.#nextOffset = Math.max(this.#nextOffset, offset + 1);
    if (kind === "delete") {
      this.#rows.delete(key);
      this.#announce({ kind: "delete", offset, row: old ?? row });
    } else {
      this.#rows.set(key, row);
      this.#announce(old === undefined ? { kind: "insert", offset, row } : { kind: "update", offset, old, row });
    }
  }
}

/** The events of a Server-Sent Events body (comments skipped). */
async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<Event> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "message";
  let data: string[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      // A "\r" last in the buffer may be half of a "\r\n": wait for more.
      while ((end = buffer.search(/\r\n|\r(?!$)|\n/)) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(buffer.startsWith("\r\n", end) ? end + 2 : end + 1);
        if (line === "") {
          if (data.length > 0) yield { event, data: data.join("\n") };
          event = "message";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (name === "event") event = value;
        else if (name === "data") data.push(value);
      }
    }
  } finally {
    reader.releaseLock();
  }
}
