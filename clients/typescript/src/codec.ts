// Codecs: each schema type's value to and from the node's JSON
// (docs/cli.md, "Values as JSON"). Generated code builds one per row and
// custom type out of these.
//
// | schema type | TypeScript | JSON |
// |---|---|---|
// | i8 ... u32 | number | numbers |
// | i64, u64, i128, u128 | bigint | numbers (128-bit beyond 64 bits as strings) |
// | f32, f64 | number | numbers, "NaN", "inf", "-inf" |
// | bool, String | boolean, string | |
// | Bytes | Uint8Array | hex digits |
// | Option<T> | T \| null | null or the value |
// | Vec<T> | T[] | arrays |
// | struct | an object type | an object by field name |
// | tuple struct | [A, B] | {"0": a, "1": b} |
// | enum | { tag: "V" } \| { tag: "W"; value: P } | "V" or {"W": payload} |

import { describe, type Json, JsonNumber, type JsonObject } from "./json.js";

/** JSON that does not fit the expected type, and where it was found. */
export class DecodeError extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${path}: expected ${expected}, found ${found}`);
    this.name = "DecodeError";
  }
}

/** A type's values to and from JSON. */
export interface Codec<T> {
  /** The schema type, for messages. */
  readonly type: string;
  /** Whether a missing object field means `null` (an `Option`). */
  readonly optional?: boolean;
  encode(value: T): Json;
  decode(json: Json | undefined, path: string): T;
}

function fail(path: string, expected: string, json: Json | undefined): never {
  throw new DecodeError(path, expected, describe(json));
}

function numberText(json: Json | undefined): string | undefined {
  if (json instanceof JsonNumber) return json.text;
  if (typeof json === "number" || typeof json === "bigint") return String(json);
  if (typeof json === "string") return json.trim();
  return undefined;
}

function smallInt(type: string, min: number, max: number): Codec<number> {
  return {
    type,
    encode: (v) => v,
    decode: (json, path) => {
      const text = numberText(json);
      const v = text !== undefined && /^-?[0-9]+$/.test(text) ? Number(text) : NaN;
      if (!Number.isInteger(v) || v < min || v > max) fail(path, type, json);
      return v;
    },
  };
}

function bigInt(type: string, bits: number, signed: boolean): Codec<bigint> {
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  // What the node reads as a number; larger 128-bit values go as strings.
  const numeric = (v: bigint) => v >= -(1n << 63n) && v < 1n << 64n;
  return {
    type,
    encode: (v) => (numeric(v) ? v : v.toString()),
    decode: (json, path) => {
      const text = numberText(json);
      if (text === undefined || !/^-?[0-9]+$/.test(text)) return fail(path, type, json);
      const v = BigInt(text);
      if (v < min || v > max) fail(path, type, json);
      return v;
    },
  };
}

function float(type: string): Codec<number> {
  return {
    type,
    encode: (v) => (Number.isNaN(v) ? "NaN" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : v),
    decode: (json, path) => {
      if (json === "NaN") return NaN;
      if (json === "inf") return Infinity;
      if (json === "-inf") return -Infinity;
      const text = numberText(json);
      const v = text === undefined || text === "" ? NaN : Number(text);
      if (Number.isNaN(v)) fail(path, type, json);
      return v;
    },
  };
}

export const i8 = smallInt("i8", -128, 127);
export const i16 = smallInt("i16", -32768, 32767);
export const i32 = smallInt("i32", -2147483648, 2147483647);
export const u8 = smallInt("u8", 0, 255);
export const u16 = smallInt("u16", 0, 65535);
export const u32 = smallInt("u32", 0, 4294967295);
export const i64 = bigInt("i64", 64, true);
export const u64 = bigInt("u64", 64, false);
export const i128 = bigInt("i128", 128, true);
export const u128 = bigInt("u128", 128, false);
export const f32 = float("f32");
export const f64 = float("f64");

export const bool: Codec<boolean> = {
  type: "bool",
  encode: (v) => v,
  decode: (json, path) => (typeof json === "boolean" ? json : fail(path, "bool", json)),
};

export const string: Codec<string> = {
  type: "String",
  encode: (v) => v,
  decode: (json, path) => (typeof json === "string" ? json : fail(path, "a string", json)),
};

export const unit: Codec<null> = {
  type: "()",
  encode: () => null,
  decode: (json, path) => (json === null ? null : fail(path, "null", json)),
};

export const bytes: Codec<Uint8Array> = {
  type: "Bytes",
  encode: (v) => Array.from(v, (b) => b.toString(16).padStart(2, "0")).join(""),
  decode: (json, path) => {
    if (typeof json !== "string" || !/^([0-9a-fA-F]{2})*$/.test(json)) return fail(path, "hex digits", json);
    const out = new Uint8Array(json.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(json.slice(2 * i, 2 * i + 2), 16);
    return out;
  },
};

export function option<T>(inner: Codec<T>): Codec<T | null> {
  return {
    type: `Option<${inner.type}>`,
    optional: true,
    encode: (v) => (v === null ? null : inner.encode(v)),
    decode: (json, path) => (json === null || json === undefined ? null : inner.decode(json, path)),
  };
}

export function vec<T>(inner: Codec<T>): Codec<T[]> {
  return {
    type: `Vec<${inner.type}>`,
    encode: (v) => v.map((x) => inner.encode(x)),
    decode: (json, path) => {
      if (!Array.isArray(json)) return fail(path, "an array", json);
      return json.map((x, i) => inner.decode(x, `${path}[${i}]`));
    },
  };
}

function object(json: Json | undefined, path: string, type: string): JsonObject {
  if (json === null || typeof json !== "object" || Array.isArray(json) || json instanceof JsonNumber) {
    return fail(path, `a ${type} object`, json);
  }
  return json;
}

function field<T>(o: JsonObject, name: string, codec: Codec<T>, path: string): T {
  const at = path === "" ? name : `${path}.${name}`;
  const value = o[name];
  if (value === undefined && !codec.optional) fail(at, codec.type, undefined);
  return codec.decode(value, at);
}

/** The fields of a struct: each field's name and codec. */
export type Fields<T> = { [K in keyof T]: Codec<T[K]> };

/** A struct: an object by field name (fields the node adds are ignored). */
export function struct<T extends object>(type: string, fields: Fields<T>): Codec<T> {
  const entries = Object.entries(fields) as [string, Codec<unknown>][];
  return {
    type,
    encode: (v) => {
      const out: JsonObject = {};
      for (const [name, codec] of entries) out[name] = codec.encode((v as Record<string, unknown>)[name]);
      return out;
    },
    decode: (json, path) => {
      const o = object(json, path, type);
      const out: Record<string, unknown> = {};
      for (const [name, codec] of entries) out[name] = field(o, name, codec, path);
      return out as T;
    },
  };
}

/** A tuple struct (or a struct without a name): `[a, b]` in TypeScript,
 *  `{"0": a, "1": b}` in JSON. */
export function tuple<T extends unknown[]>(type: string, items: { [K in keyof T]: Codec<T[K]> }): Codec<T> {
  const codecs = items as unknown as Codec<unknown>[];
  return {
    type,
    encode: (v) => {
      const out: JsonObject = {};
      codecs.forEach((codec, i) => (out[String(i)] = codec.encode(v[i])));
      return out;
    },
    decode: (json, path) => {
      const o = object(json, path, type);
      return codecs.map((codec, i) => field(o, String(i), codec, path)) as T;
    },
  };
}

/** The variants of an enum: each name, and its payload's codec (`null`
 *  for none). */
export type Variants = { [name: string]: Codec<unknown> | null };

/** An enum value: `{ tag }`, or `{ tag, value }` with a payload. */
export type Tagged = { tag: string; value?: unknown };

/** An enum: `"Variant"` or `{"Variant": payload}` in JSON. */
export function enumOf<T extends Tagged>(type: string, variants: Variants): Codec<T> {
  const names = Object.keys(variants);
  return {
    type,
    encode: (v) => {
      const payload = variants[v.tag];
      if (payload === undefined) throw new TypeError(`${type} has no variant ${v.tag}`);
      return payload === null ? v.tag : { [v.tag]: payload.encode(v.value) };
    },
    decode: (json, path) => {
      let tag: string;
      let payload: Json | undefined = null;
      if (typeof json === "string") tag = json;
      else {
        const o = object(json, path, `${type} variant`);
        const keys = Object.keys(o);
        if (keys.length !== 1) return fail(path, `a ${type} variant`, json);
        tag = keys[0] as string;
        payload = o[tag];
      }
      const codec = variants[tag];
      if (codec === undefined) return fail(path, `a ${type} variant (${names.join(", ")})`, json);
      if (codec === null) return { tag } as T;
      return { tag, value: codec.decode(payload, `${path}.${tag}`) } as T;
    },
  };
}

/** A table's row codec: which table, and how to find a row's key. */
export interface Table<R> extends Codec<R> {
  readonly module: string;
  readonly table: string;
  /** The primary key's column. */
  readonly key: keyof R & string;
  /** Each column's codec (for filters). */
  readonly columns: Fields<R>;
}

/** A table's rows: a struct of its columns, keyed by `key`. */
export function table<R extends object>(module: string, name: string, key: keyof R & string, columns: Fields<R>): Table<R> {
  return { ...struct<R>(`${module}.${name} row`, columns), module, table: name, key, columns };
}
