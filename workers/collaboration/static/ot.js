// Operational transformation for the room page: the browser's copy of ot.py and client.py,
// rule for rule (tests run both on the same cases). Positions and lengths count Unicode code
// points, as the server does; JavaScript strings are UTF-16, so every slice converts.
// Works as a plain <script> (window.HearthOT) and under Node (module.exports) for the tests.
(function (root) {
  "use strict";

  const MAX_MERGED_CHARS = 4096; // a merged insert stays well inside one 64 KiB frame

  // -- code points in UTF-16 strings ---------------------------------------------------------

  const isHigh = (unit) => unit >= 0xd800 && unit <= 0xdbff;
  const isLow = (unit) => unit >= 0xdc00 && unit <= 0xdfff;

  // The UTF-16 index `count` code points after UTF-16 index `from`.
  function advance(text, from, count) {
    let unit = from;
    for (let i = 0; i < count && unit < text.length; i++) {
      unit += isHigh(text.charCodeAt(unit)) && isLow(text.charCodeAt(unit + 1)) ? 2 : 1;
    }
    return unit;
  }

  // How many code points text[from, to) holds.
  function points(text, from = 0, to = text.length) {
    let count = 0;
    for (let unit = from; unit < to; count++) {
      unit += isHigh(text.charCodeAt(unit)) && isLow(text.charCodeAt(unit + 1)) ? 2 : 1;
    }
    return count;
  }

  // -- operations ----------------------------------------------------------------------------

  const insert = (position, text) => ({ type: "insert", position, text });
  const del = (position, length) => ({ type: "delete", position, length });
  const isInsert = (op) => op.type === "insert";

  function apply(text, op) {
    const start = advance(text, 0, op.position);
    if (isInsert(op)) return text.slice(0, start) + op.text + text.slice(start);
    return text.slice(0, start) + text.slice(advance(text, start, op.length));
  }

  const delta = (op) => (isInsert(op) ? points(op.text) : -op.length);

  function check(op, size) {
    const end = isInsert(op) ? op.position : op.position + op.length;
    if (end > size) {
      throw new RangeError(`operation reaches position ${end} of a ${size}-character text`);
    }
  }

  // -- transformation: see ot.py for the rules -------------------------------------------------

  function transform(a, b, aFirst) {
    if (a.length === 1 && b.length === 1) return pair(a[0], b[0], aFirst);
    if (a.length !== 1) {
      const out = [];
      for (const op of a) {
        const [done, rest] = transform([op], b, aFirst);
        out.push(...done);
        b = rest;
      }
      return [out, b];
    }
    const rebased = [];
    for (const op of b) {
      const [rest, done] = transform(a, [op], aFirst);
      a = rest;
      rebased.push(...done);
    }
    return [a, rebased];
  }

  function pair(a, b, aFirst) {
    if (isInsert(a)) {
      if (isInsert(b)) {
        if (a.position < b.position || (a.position === b.position && aFirst)) {
          return [[a], [insert(b.position + points(a.text), b.text)]];
        }
        return [[insert(a.position + points(b.text), a.text)], [b]];
      }
      return insertDelete(a, b);
    }
    if (isInsert(b)) {
      const [b2, a2] = insertDelete(b, a);
      return [a2, b2];
    }
    return [shrink(a, b), shrink(b, a)];
  }

  function insertDelete(ins, cut) {
    const start = cut.position, end = cut.position + cut.length, size = points(ins.text);
    if (ins.position <= start) return [[ins], [del(start + size, cut.length)]];
    if (ins.position >= end) return [[insert(ins.position - cut.length, ins.text)], [cut]];
    const head = ins.position - start;
    return [[insert(start, ins.text)], [del(start, head), del(start + size, cut.length - head)]];
  }

  function shrink(cut, other) {
    const start = mapPosition(cut.position, other);
    const end = mapPosition(cut.position + cut.length, other);
    return end > start ? [del(start, end - start)] : [];
  }

  function mapPosition(position, op) {
    if (isInsert(op)) return position > op.position ? position + points(op.text) : position;
    if (position <= op.position) return position;
    return Math.max(op.position, position - op.length);
  }

  // -- the client's outgoing buffer ----------------------------------------------------------

  function merge(ops, op) {
    const last = ops[ops.length - 1];
    if (last && isInsert(last) && isInsert(op)) {
      const size = points(last.text);
      if (op.position === last.position + size && size + points(op.text) <= MAX_MERGED_CHARS) {
        ops[ops.length - 1] = insert(last.position, last.text + op.text);
        return;
      }
    } else if (last && !isInsert(last) && !isInsert(op)) {
      if (op.position === last.position) {
        ops[ops.length - 1] = del(last.position, last.length + op.length);
        return;
      }
      if (op.position + op.length === last.position) {
        ops[ops.length - 1] = del(op.position, last.length + op.length);
        return;
      }
    }
    ops.push(op);
  }

  // An insert longer than MAX_MERGED_CHARS, as pieces that each fit a frame.
  function pieces(op) {
    if (!isInsert(op) || points(op.text) <= MAX_MERGED_CHARS) return [op];
    const out = [];
    let unit = 0, position = op.position;
    while (unit < op.text.length) {
      const end = advance(op.text, unit, MAX_MERGED_CHARS);
      out.push(insert(position, op.text.slice(unit, end)));
      position += points(op.text, unit, end);
      unit = end;
    }
    return out;
  }

  // The operations turning `old` into `now`: a delete and/or an insert around the longest
  // common prefix and suffix, never splitting a surrogate pair.
  function diff(old, now) {
    const limit = Math.min(old.length, now.length);
    let start = 0;
    while (start < limit && old.charCodeAt(start) === now.charCodeAt(start)) start++;
    if (start > 0 && isHigh(old.charCodeAt(start - 1))) start--;
    let tail = 0;
    while (tail < limit - start &&
           old.charCodeAt(old.length - 1 - tail) === now.charCodeAt(now.length - 1 - tail)) tail++;
    if (tail > 0 && isLow(old.charCodeAt(old.length - tail))) tail--;
    const ops = [], position = points(old, 0, start);
    if (old.length - tail > start) ops.push(del(position, points(old, start, old.length - tail)));
    if (now.length - tail > start) ops.push(insert(position, now.slice(start, now.length - tail)));
    return ops;
  }

  // -- the client: see client.py -------------------------------------------------------------

  class ClientState {
    constructor(session = "", content = "", version = 0) {
      this.reset(session, content, version);
    }

    reset(session, content, version) {
      this.session = session;
      this.content = content;
      this.size = points(content);
      this.version = version;
      this.inflight = null; // null: nothing awaits an ack ([]: it vanished)
      this.pending = [];
    }

    edit(op) {
      for (const piece of pieces(op)) {
        check(piece, this.size);
        this.content = apply(this.content, piece);
        this.size += delta(piece);
        merge(this.pending, piece);
      }
    }

    outgoing() {
      if (this.inflight !== null || this.pending.length === 0) return null;
      const op = this.pending.shift();
      this.inflight = [op];
      return { type: "operation", operation: op, baseVersion: this.version };
    }

    acknowledge(version) {
      this.inflight = null;
      this.version = version;
    }

    receive(op, version, session) {
      const first = session < this.session;
      let ops = [op];
      if (this.inflight && this.inflight.length) {
        [ops, this.inflight] = transform(ops, this.inflight, first);
      }
      if (this.pending.length) [ops, this.pending] = transform(ops, this.pending, first);
      for (const each of ops) {
        this.content = apply(this.content, each);
        this.size += delta(each);
      }
      this.version = version;
      return ops;
    }

    handle(frame) {
      if (frame.type === "document_state") {
        this.reset(frame.sessionId, frame.document.content, frame.document.version);
      } else if (frame.type === "ack") {
        this.acknowledge(frame.version);
      } else if (frame.type === "operation") {
        return this.receive(frame.operation, frame.version, frame.sessionId);
      }
      return [];
    }

    // Whether the local text is the server's at `version` (no local edit awaits the server).
    get settled() {
      return this.inflight === null && this.pending.length === 0;
    }
  }

  const api = {
    MAX_MERGED_CHARS, advance, points, insert, del, apply, check, transform, mapPosition,
    merge, pieces, diff, ClientState,
  };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.HearthOT = api;
})(typeof self !== "undefined" ? self : this);
