// A subscription across a node restart: node test-dist/test/reconnect.js
// URL. It subscribes to test_persistence.accounts, prints "subscribed",
// and waits (up to 60 s) for the resync after the harness restarts the node
// with other commits made meanwhile; then every change the callback saw,
// applied in order to an empty copy, must give the subscription's copy.

import { Client, type Change } from "@interstice/client";
import { test_persistence } from "./generated/index.js";

declare const process: { argv: string[]; exitCode?: number };

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`failed: ${what}`);
}

async function main(): Promise<void> {
  const url = process.argv[2];
  if (url === undefined) throw new Error("usage: reconnect.js URL");
  const bank = new test_persistence.TestPersistence(new Client({ url }));
  const seen: Change<test_persistence.AccountsRow>[] = [];
  const accounts = await bank.subscribeAccounts({ onChange: (c) => seen.push(c) });
  console.log(`subscribed to ${accounts.size} accounts`);

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no resync in 60 s: ${JSON.stringify(accounts.status)}`)), 60_000);
    const stop = accounts.onChange((c) => {
      if (c.kind === "synced" && c.resynced) {
        clearTimeout(timer);
        stop();
        resolve();
      }
    });
  });
  accounts.close();

  const replica = new Map<bigint, test_persistence.AccountsRow>();
  for (const c of seen) {
    if (c.kind === "insert" || c.kind === "update") replica.set(c.row.id, c.row);
    if (c.kind === "delete") check(replica.delete(c.row.id), `a delete of a row the replica has: ${c.row.id}`);
  }
  const rows = accounts.rows().sort((a, b) => (a.id < b.id ? -1 : 1));
  const mine = [...replica.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const text = (r: test_persistence.AccountsRow[]) => r.map((a) => `${a.id}:${a.balance}`).join(",");
  check(text(rows) === text(mine), `the replica ${text(mine)} is the copy ${text(rows)}`);
  const broke = seen.findIndex((c) => c.kind === "disconnected");
  const resynced = seen.findIndex((c) => c.kind === "synced" && c.resynced);
  check(broke >= 0 && broke < resynced, "disconnected, then resynchronised");
  const between = seen.slice(broke + 1, resynced);
  check(between.length > 0 && between.every((c) => "offset" in c && c.offset === null), "the differences come without an offset");
  console.log(`reconnect: ok (${between.length} changes found by the resync; copy ${text(rows)})`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
