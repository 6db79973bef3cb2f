// Runs ot.js on the cases test_js_mirror.py writes to stdin and prints what it computed, so
// the test can compare every result with the Python module's.
"use strict";
const OT = require("../../workers/collaboration/static/ot.js");

const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = { transform: [], diff: [], pieces: [], clients: [] };

for (const [a, b, first] of input.transform) out.transform.push(OT.transform(a, b, first));
for (const [old, now] of input.diff) out.diff.push(OT.diff(old, now));
for (const op of input.pieces) out.pieces.push(OT.pieces(op));
for (const script of input.clients) {
  // A client's whole life: the calls it got, in order, and what each returned.
  const state = new OT.ClientState();
  const results = [];
  for (const [call, arg] of script) {
    if (call === "edit") results.push(state.edit(arg) ?? null);
    else if (call === "outgoing") results.push(state.outgoing());
    else results.push(state.handle(arg));
  }
  results.push([state.content, state.version, state.inflight, state.pending, state.settled]);
  out.clients.push(results);
}
process.stdout.write(JSON.stringify(out));
