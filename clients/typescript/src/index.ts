// The runtime of generated TypeScript clients of an Interstice node
// (docs/clients.md): `interstice generate --lang typescript` writes, from
// module schemas, a type and a codec per row and custom type, a method per
// public reducer and a subscription per public table, all built on this.
// It runs in Node 18+ and in browsers, with nothing beyond what they
// provide (fetch, streams, TextDecoder).

export {
  Client,
  type CallOptions,
  type ClientOptions,
  DEFAULT_URL,
  type ErrorCode,
  type LogLine,
  NodeError,
  type ReadOptions,
  type Receipt,
  UnreachableError,
} from "./client.js";
export { type Codec, DecodeError, type Table } from "./codec.js";
export * as t from "./codec.js";
export { type Json, JsonNumber, parse, stringify } from "./json.js";
export { type Change, type Status, type SubscribeOptions, Subscription } from "./subscription.js";
