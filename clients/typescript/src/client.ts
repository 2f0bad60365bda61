// The connection to a node: where it is, the token, calls and reads.

import type { Codec, Table } from "./codec.js";
import { DecodeError } from "./codec.js";
import { type Json, JsonNumber, type JsonObject, parse, stringify } from "./json.js";

/** Where a node is when nothing says otherwise. */
export const DEFAULT_URL = "http://127.0.0.1:7700";

/** The error codes a node answers with (docs/http-api.md, "Errors"). */
export type ErrorCode =
  | "reducer_failed"
  | "reducer_trapped"
  | "bad_arguments"
  | "table_constraint"
  | "limit_exceeded"
  | "capability_violation"
  | "request_id_reused"
  | "bad_request_id"
  | "outcome_unknown"
  | "store_unavailable"
  | "follower"
  | "unauthorized"
  | "admin_only"
  | "private_reducer"
  | "no_such_module"
  | "no_such_reducer"
  | "no_such_table"
  | "no_such_offset"
  | "bad_filter"
  | "bad_query"
  | "too_many_subscribers"
  | "too_many_connections"
  | "body_too_large"
  | (string & {});

/** An error answer from the node: nothing of the request committed, except
 *  possibly under `outcome_unknown`. */
export class NodeError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(`${message} (${status} ${code})`);
    this.name = "NodeError";
  }
}

/** The node could not be reached, or the connection broke. */
export class UnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly reason: unknown,
  ) {
    super(`cannot reach the node at ${url}: ${reason instanceof Error ? reason.message : String(reason)}`);
    this.name = "UnreachableError";
  }
}

/** A line a reducer logged. */
export interface LogLine {
  level: string;
  message: string;
}

/** What a committed call answers. */
export interface Receipt {
  /** The commit's offset, durable when this arrives; `null` when the reducer
   *  changed nothing (nothing was logged). */
  offset: number | null;
  /** What the reducer logged (none for a replayed call). */
  logs: LogLine[];
  /** A retry of a call already committed with the same idempotency key:
   *  nothing ran this time. */
  replayed: boolean;
}

/** Options of one call. */
export interface CallOptions {
  /** Makes the call exactly once per key: a retry with the same key runs
   *  nothing and answers the first commit's offset. */
  idempotencyKey?: string;
}

/** Options of a read. */
export interface ReadOptions<R> {
  /** Only rows whose columns equal these values. */
  where?: Partial<R>;
  /** At most this many rows (the node's default is 1000). */
  limit?: number;
}

/** How to reach a node. */
export interface ClientOptions {
  /** `http://HOST:PORT` (default `DEFAULT_URL`). */
  url?: string;
  /** The callers' token, sent as `Authorization: Bearer`. */
  token?: string;
}

/** A node's address and token. */
export class Client {
  readonly url: string;
  readonly #token: string | undefined;

  constructor(options: ClientOptions = {}) {
    const url = (options.url ?? DEFAULT_URL).replace(/\/+$/, "");
    if (!/^https?:\/\//.test(url)) throw new TypeError(`\`${url}\` is not a node address: give http://HOST:PORT`);
    this.url = url;
    this.#token = options.token;
  }

  /** In Node: the node at `INTERSTICE_NODE` with the token in
   *  `INTERSTICE_TOKEN`, when set. */
  static fromEnv(): Client {
    const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
    const options: ClientOptions = {};
    if (env["INTERSTICE_NODE"]) options.url = env["INTERSTICE_NODE"];
    if (env["INTERSTICE_TOKEN"]) options.token = env["INTERSTICE_TOKEN"];
    return new Client(options);
  }

  /** Sends a request; an error answer throws `NodeError`. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#token !== undefined) headers.set("Authorization", `Bearer ${this.#token}`);
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, { ...init, headers });
    } catch (e) {
      if (init.signal?.aborted) throw e;
      throw new UnreachableError(this.url, e);
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  /** Calls `module.reducer` with its arguments, encoded, by position. */
  async call(module: string, reducer: string, args: Json[], options: CallOptions = {}): Promise<Receipt> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (options.idempotencyKey !== undefined) headers["Idempotency-Key"] = options.idempotencyKey;
    const response = await this.request(`/v1/modules/${module}/reducers/${reducer}`, {
      method: "POST",
      headers,
      body: stringify(args),
    });
    const answer = parse(await response.text()) as JsonObject;
    const logs = Array.isArray(answer["logs"]) ? answer["logs"] : [];
    return {
      offset: offsetOf(answer["offset"]),
      logs: logs.map((l) => {
        const line = l as JsonObject;
        return { level: String(line["level"]), message: String(line["message"]) };
      }),
      replayed: answer["replayed"] === true,
    };
  }

  /** The rows of a table matching `options.where`, in primary-key order. */
  async read<R>(table: Table<R>, options: ReadOptions<R> = {}): Promise<R[]> {
    const query = filterQuery(table, options.where);
    if (options.limit !== undefined) query.append("limit", String(options.limit));
    const response = await this.request(`/v1/modules/${table.module}/tables/${table.table}?${query}`);
    const answer = parse(await response.text()) as JsonObject;
    const rows = answer["rows"];
    if (!Array.isArray(rows)) throw new DecodeError("answer", "rows", "none");
    return rows.map((r, i) => table.decode(r, `${table.table}[${i}]`));
  }
}

/** `where=COLUMN=VALUE` for each column given, the value as JSON. */
export function filterQuery<R>(table: Table<R>, where: Partial<R> | undefined): URLSearchParams {
  const query = new URLSearchParams();
  for (const [column, value] of Object.entries(where ?? {})) {
    if (value === undefined) continue;
    const codec = (table.columns as Record<string, Codec<unknown> | undefined>)[column];
    if (codec === undefined) throw new TypeError(`${table.module}.${table.table} has no column ${column}`);
    query.append("where", `${column}=${stringify(codec.encode(value))}`);
  }
  return query;
}

/** An offset in an answer (offsets stay far below 2^53). */
export function offsetOf(json: Json | undefined): number | null {
  return json instanceof JsonNumber ? Number(json.text) : null;
}

/** The error in a node's non-success answer. */
async function errorOf(response: Response): Promise<Error> {
  const text = await response.text();
  try {
    const error = (parse(text) as JsonObject)["error"] as JsonObject;
    if (typeof error["code"] === "string" && typeof error["message"] === "string") {
      return new NodeError(response.status, error["code"], error["message"]);
    }
  } catch {
    // Not the node's error body: said below.
  }
  return new NodeError(response.status, "unexpected_answer", `status ${response.status}: ${text.slice(0, 200)}`);
}
