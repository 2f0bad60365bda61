// JSON without loss of precision: `JSON.parse` turns every number into a
// float, and a u64 beyond 2^53 would silently change. `parse` keeps each
// number's text (a `JsonNumber`), so codecs read 64- and 128-bit integers
// as `bigint` exactly; `stringify` writes `bigint` values as digits.

/** A number as written, read later by a codec for its type. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

/** A JSON value: numbers as parsed text, or as `number`/`bigint` to write. */
export type Json =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonNumber
  | Json[]
  | { [key: string]: Json };

/** A JSON object. */
export type JsonObject = { [key: string]: Json };

/** Reads JSON text, keeping numbers as their text. */
export function parse(text: string): Json {
  let at = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`JSON: ${what} at position ${at}`);
  };
  const space = () => {
    while (at < text.length && " \t\n\r".includes(text.charAt(at))) at++;
  };
  const value = (): Json => {
    space();
    const c = text.charAt(at);
    if (c === "{") {
      at++;
      const object: JsonObject = {};
      space();
      if (text.charAt(at) === "}") {
        at++;
        return object;
      }
      for (;;) {
        space();
        if (text.charAt(at) !== '"') fail("expected a key");
        const key = string();
        space();
        if (text.charAt(at) !== ":") fail("expected ':'");
        at++;
        object[key] = value();
        space();
        const next = text.charAt(at++);
        if (next === "}") return object;
        if (next !== ",") fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      at++;
      const array: Json[] = [];
      space();
      if (text.charAt(at) === "]") {
        at++;
        return array;
      }
      for (;;) {
        array.push(value());
        space();
        const next = text.charAt(at++);
        if (next === "]") return array;
        if (next !== ",") fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (text.startsWith("true", at)) {
      at += 4;
      return true;
    }
    if (text.startsWith("false", at)) {
      at += 5;
      return false;
    }
    if (text.startsWith("null", at)) {
      at += 4;
      return null;
    }
    const number = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(at, at + 400));
    if (number === null) return fail("unexpected character");
    at += number[0].length;
    return new JsonNumber(number[0]);
  };
  const string = (): string => {
    const start = at;
    at++;
    let escaped = false;
    while (at < text.length) {
      const c = text.charAt(at);
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') break;
      at++;
    }
    if (at >= text.length) fail("unterminated string");
    at++;
    return JSON.parse(text.slice(start, at)) as string;
  };
  const result = value();
  space();
  if (at !== text.length) fail("trailing characters");
  return result;
}

/** Writes JSON text; `bigint` values and `JsonNumber`s as their digits. */
export function stringify(value: Json): string {
  if (value === null) return "null";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`JSON cannot hold ${value}`);
    return String(value);
  }
  if (typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (value instanceof JsonNumber) return value.text;
  if (Array.isArray(value)) return `[${value.map(stringify).join(",")}]`;
  const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${stringify(v)}`);
  return `{${entries.join(",")}}`;
}

/** A short rendering of a value for error messages. */
export function describe(value: Json | undefined): string {
  if (value === undefined) return "nothing (missing)";
  const text = stringify(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
