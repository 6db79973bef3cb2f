// Start Miniflare on the benchmark worker with data seeded like Hearth's, then wait for SIGTERM.
// Usage: node run.mjs <miniflare home> <port> <persist dir>; prints "READY <url>" when serving.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [home, port, persist] = process.argv.slice(2);
const { Miniflare } = await import(
  pathToFileURL(join(home, "node_modules", "miniflare", "dist", "src", "index.js")).href
);
const here = dirname(fileURLToPath(import.meta.url));

const mf = new Miniflare({
  modules: true,
  scriptPath: join(here, "worker.mjs"),
  modulesRoot: here,
  compatibilityDate: "2026-04-01",
  host: "127.0.0.1",
  port: Number(port),
  kvNamespaces: ["KV"],
  d1Databases: ["DB"],
  r2Buckets: ["BUCKET"],
  durableObjects: { COUNTER: "Counter", ROOMS: "Room" },
  defaultPersistRoot: persist,
});
const url = await mf.ready;

const kv = await mf.getKVNamespace("KV");
await kv.put("bench-key", readFileSync(join(persist, "..", "kv-value.txt"), "utf8"));
const db = await mf.getD1Database("DB");
await db.exec(
  "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, score REAL NOT NULL)",
);
await db.exec(
  "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, kind TEXT NOT NULL, at REAL NOT NULL)",
);
const insert = db.prepare("INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?)");
for (let start = 1; start <= 10000; start += 500) {
  const batch = [];
  for (let i = start; i < start + 500; i++) batch.push(insert.bind(i, `user ${i}`, `user${i}@example.com`, i * 0.5));
  await db.batch(batch);
}
const r2 = await mf.getR2Bucket("BUCKET");
await r2.put("bench/1k", new Uint8Array(readFileSync(join(persist, "..", "r2-1k.bin"))), {
  httpMetadata: { contentType: "application/octet-stream" },
});

console.log(`READY ${url.href}`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
