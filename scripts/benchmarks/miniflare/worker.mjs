// The benchmark scenarios as a Cloudflare Worker for Miniflare: the same routes, data and work
// as scripts/benchmarks/hearth_app.py (Hearth's side of the comparison).
import { DurableObject } from "cloudflare:workers";

const D1_ROWS = 10000;
const D1_SELECT = "SELECT id, name, email, score FROM users WHERE id = ?";
const D1_INSERT = "INSERT INTO events (user_id, kind, at) VALUES (?, ?, ?)";
const randomId = () => 1 + Math.floor(Math.random() * D1_ROWS);

export class Counter extends DurableObject {
  async increment() {
    const n = ((await this.ctx.storage.get("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    return n;
  }
}

export class Room extends DurableObject {
  async fetch(request) {
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  async webSocketMessage(ws, message) {
    for (const peer of this.ctx.getWebSockets()) peer.send(message);
  }
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    switch (pathname) {
      case "/hello":
        return Response.json({ hello: "world" });
      case "/kv/get": {
        const value = await env.KV.get("bench-key");
        return value === null ? new Response("not found", { status: 404 }) : new Response(value);
      }
      case "/d1/select":
        return Response.json(await env.DB.prepare(D1_SELECT).bind(randomId()).first());
      case "/d1/insert": {
        const result = await env.DB.prepare(D1_INSERT).bind(randomId(), "click", Date.now() / 1000).run();
        return Response.json({ id: result.meta.last_row_id });
      }
      case "/r2/get": {
        const obj = await env.BUCKET.get("bench/1k");
        const type = obj.httpMetadata.contentType ?? "application/octet-stream";
        return new Response(obj.body, { headers: { "content-type": type, etag: obj.httpEtag } });
      }
      case "/do/increment":
        return Response.json({ n: await env.COUNTER.getByName("bench").increment() });
      case "/do/room":
        return env.ROOMS.getByName("bench").fetch(request);
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
