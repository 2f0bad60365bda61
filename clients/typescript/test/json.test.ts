// The runtime's JSON and codecs, without a node: numbers keep every digit,
// and each schema type reads back what it writes.

import { t, parse, stringify, JsonNumber, DecodeError } from "@interstice/client";

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`failed: ${what}`);
}

const big = parse('{"id":18446744073709551615,"neg":-9223372036854775808,"x":1.5,"s":"a\\"b"}');
const o = big as Record<string, unknown>;
check(o["id"] instanceof JsonNumber && (o["id"] as JsonNumber).text === "18446744073709551615", "u64 max kept as text");
check(t.u64.decode(o["id"] as JsonNumber, "id") === 18446744073709551615n, "u64 max as bigint");
check(t.i64.decode(o["neg"] as JsonNumber, "neg") === -9223372036854775808n, "i64 min as bigint");
check(t.f64.decode(o["x"] as JsonNumber, "x") === 1.5, "f64");
check(o["s"] === 'a"b', "escaped string");
check(stringify({ id: 18446744073709551615n, f: 0.25 }) === '{"id":18446744073709551615,"f":0.25}', "bigint written as digits");

check(t.u128.encode(2n ** 127n) === "170141183460469231731687303715884105728", "u128 beyond 64 bits as a string");
check(t.u128.decode("170141183460469231731687303715884105728", "v") === 2n ** 127n, "u128 from a string");
check(Number.isNaN(t.f64.decode("NaN", "f")) && t.f64.encode(-Infinity) === "-inf", "NaN and infinities");
check(stringify(t.bytes.encode(new Uint8Array([0, 255, 16]))) === '"00ff10"', "bytes as hex");
check(t.bytes.decode("00ff10", "b").join(",") === "0,255,16", "hex as bytes");

type Shape = { tag: "Dot" } | { tag: "Line"; value: { to: bigint } } | { tag: "Pair"; value: [number, string] };
const Shape = t.enumOf<Shape>("Shape", {
  Dot: null,
  Line: t.struct<{ to: bigint }>("Line", { to: t.u64 }),
  Pair: t.tuple<[number, string]>("Pair", [t.u8, t.string]),
});
check(stringify(Shape.encode({ tag: "Dot" })) === '"Dot"', "a unit variant is its name");
check(stringify(Shape.encode({ tag: "Line", value: { to: 7n } })) === '{"Line":{"to":7}}', "a struct variant");
check(stringify(Shape.encode({ tag: "Pair", value: [1, "x"] })) === '{"Pair":{"0":1,"1":"x"}}', "a tuple variant");
const line = Shape.decode(parse('{"Line":{"to":7,"added_later":true}}'), "shape");
check(line.tag === "Line" && line.value.to === 7n, "extra fields are ignored");

const Row = t.table<{ id: bigint; note: string | null }>("m", "rows", "id", { id: t.u64, note: t.option(t.string) });
check(Row.decode(parse('{"id":1}'), "row").note === null, "a missing option is null");
for (const [json, path] of [
  ['{"note":"x"}', "row.id"],
  ['{"id":-1}', "row.id"],
  ['{"id":1,"note":3}', "row.note"],
] as const) {
  try {
    Row.decode(parse(json), "row");
    check(false, `${json} refused`);
  } catch (e) {
    check(e instanceof DecodeError && e.path === path, `${json}: error at ${path}, got ${String(e)}`);
  }
}
console.log("json and codecs: ok");
