// The generated TypeScript client (test/generated, written by `interstice
// generate --lang typescript` from modules/chat and modules/test_persistence)
// against a real node: node test-dist/test/scenario.js URL. Prints one line
// per step; any failure throws and exits non-zero.

import { Client, NodeError, UnreachableError, type Change } from "@interstice/client";
import { chat, test_persistence } from "./generated/index.js";

declare const process: { argv: string[]; exitCode?: number };

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`failed: ${what}`);
}

async function refused(call: Promise<unknown>, code: string, text: string): Promise<NodeError> {
  try {
    await call;
  } catch (e) {
    check(e instanceof NodeError, `a NodeError, got ${String(e)}`);
    const err = e as NodeError;
    check(err.code === code && err.message.includes(text), `${code} mentioning ${text}, got ${err.message}`);
    return err;
  }
  throw new Error(`expected ${code}`);
}

async function main(): Promise<void> {
  const url = process.argv[2];
  if (url === undefined) throw new Error("usage: scenario.js URL");
  const client = new Client({ url });
  const room = new chat.Chat(client);

  const seen: Change<chat.MessagesRow>[] = [];
  const messages = await room.subscribeMessages({ onChange: (c) => seen.push(c) });
  check(messages.size === 0 && seen.length === 1 && seen[0]?.kind === "synced", "an empty, synced copy");
  const ada = await room.register("ada");
  check(typeof ada.offset === "number", "register committed at an offset");
  await room.register("bob");
  const sent = await room.send("ada", "general", "hello @bob");
  await messages.waitUntil((rows) => rows.length === 1, 10_000);
  const [message] = messages.rows();
  check(message !== undefined && message.text === "hello @bob", "the message arrived through the subscription");
  check(typeof message?.id === "bigint" && messages.get(message.id) === message, "u64 keys are bigint");
  check(messages.nextOffset > (sent.offset ?? Infinity), "the copy is past the send's commit");
  check(seen.some((c) => c.kind === "insert" && c.offset !== null), "the insert came with its offset");
  console.log("chat: register, send, the message in the subscription cache");

  const [user] = await room.readUsers({ where: { name: "ada" } });
  check(user?.presence.tag === "Online" && user.id === message?.author, "a typed, filtered read");
  await room.setPresence("ada", { tag: "Away", value: { since: 1n, note: "lunch" } });
  const [away] = await room.readUsers({ where: { name: "ada" } });
  check(away?.presence.tag === "Away" && away.presence.value.note === "lunch", "an enum with a payload round-trips");
  await refused(room.register("ada"), "reducer_failed", "`ada` is taken");
  console.log("chat: typed reads, enums, a reducer's typed error");

  const bank = new test_persistence.TestPersistence(client);
  await bank.open(1n, "ada", 100n);
  await bank.open(2n, "bob", 0n);
  const accounts = await bank.subscribeAccounts({ where: { owner: "bob" } });
  check(accounts.size === 1, "a filtered subscription");
  const err = await refused(bank.transfer(1n, 2n, 1000n), "reducer_failed", "account 1 has less than 1000");
  check(err.status === 422, "422 for a failed reducer");
  const first = await bank.transfer(1n, 2n, 30n, { idempotencyKey: "t-1" });
  const again = await bank.transfer(1n, 2n, 30n, { idempotencyKey: "t-1" });
  check(again.replayed && !first.replayed && again.offset === first.offset, "an idempotent retry ran nothing");
  await accounts.waitUntil(() => accounts.get(2n)?.balance === 30n, 10_000);
  const [one] = await bank.readAccounts({ where: { id: 1n } });
  check(one?.balance === 70n, "the transfer ran once");
  console.log("test_persistence: a failing transfer's typed error, idempotent calls");

  messages.close();
  accounts.close();
  try {
    await new chat.Chat(new Client({ url: "http://127.0.0.1:9" })).register("x");
    throw new Error("expected the node to be unreachable");
  } catch (e) {
    check(e instanceof UnreachableError && e.message.includes("http://127.0.0.1:9"), `unreachable: ${String(e)}`);
  }
  console.log("scenario: ok");
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
