// The room page: a textarea kept in step with everyone else's through the room's WebSocket.
// The OT and the client's buffers are ot.js's ClientState; this file only connects it to the
// textarea (diffing each input into operations, keeping the caret in place when others'
// operations arrive), the socket (reconnecting with back-off) and the list of people.
(function () {
  "use strict";

  const { ClientState, diff, mapPosition, points, advance } = window.HearthOT;
  const main = document.querySelector("main");
  const room = main.dataset.room;
  const editor = document.getElementById("editor");
  const status = document.getElementById("status");
  const people = document.getElementById("people");

  const state = new ClientState();
  const present = new Map(); // sessionId -> {name, color, cursor}
  let socket = null;
  let retry = 500;
  let cursorWanted = false; // the caret moved since the last cursor frame
  let cursorTimer = null;
  const CURSOR_EVERY_MS = 150; // cursor frames are few: the room limits frames per socket

  function setStatus(text, kind) {
    status.textContent = text;
    status.dataset.kind = kind;
  }

  // -- the socket ---------------------------------------------------------------------------

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/rooms/${encodeURIComponent(room)}/ws`);
    socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
    socket.addEventListener("close", onClose);
  }

  function onClose() {
    editor.disabled = true;
    setStatus("Offline: reconnecting…", "offline");
    fetch(`/rooms/${encodeURIComponent(room)}/document`, { credentials: "same-origin" })
      .then((response) => {
        if (response.status === 401) {
          setStatus("Signed out: sign in again at /login, then reload", "error");
          return;
        }
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 10000);
      })
      .catch(() => setTimeout(connect, (retry = Math.min(retry * 2, 10000))));
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function flush() {
    const frame = state.outgoing();
    if (frame) send(frame);
    if (cursorWanted && state.settled) scheduleCursor();
  }

  // -- frames from the room -------------------------------------------------------------------

  function onFrame(frame) {
    switch (frame.type) {
      case "document_state":
        state.handle(frame);
        editor.value = state.content;
        editor.disabled = false;
        present.clear();
        for (const user of frame.present) present.set(user.sessionId, { ...user, cursor: null });
        retry = 500;
        setStatus("Connected", "ok");
        renderPeople();
        break;
      case "ack":
        state.handle(frame);
        flush();
        break;
      case "operation":
        applyRemote(frame);
        break;
      case "presence":
        if (frame.action === "join") present.set(frame.user.sessionId, { ...frame.user, cursor: null });
        else present.delete(frame.user.sessionId);
        renderPeople();
        break;
      case "user_info": {
        const person = present.get(frame.user.sessionId);
        if (person) person.color = frame.user.color;
        renderPeople();
        break;
      }
      case "cursor": {
        const person = present.get(frame.sessionId);
        if (!person) break;
        // The caret is in the server's text; ours also holds edits the server has not seen.
        let { position, end } = frame.cursor;
        for (const op of [...(state.inflight || []), ...state.pending]) {
          position = mapPosition(position, op);
          end = mapPosition(end, op);
        }
        person.cursor = { position, end };
        renderPeople();
        break;
      }
      case "error":
        console.warn("room:", frame.code, frame.message);
        break;
    }
  }

  // Someone else's operation: apply it, keep our selection beside the same text.
  function applyRemote(frame) {
    const text = editor.value;
    let start = points(text, 0, editor.selectionStart);
    let end = start + points(text, editor.selectionStart, editor.selectionEnd);
    const applied = state.handle(frame);
    for (const op of applied) {
      start = mapPosition(start, op);
      end = mapPosition(end, op);
      for (const person of present.values()) {
        if (person.cursor) {
          person.cursor.position = mapPosition(person.cursor.position, op);
          person.cursor.end = mapPosition(person.cursor.end, op);
        }
      }
    }
    editor.value = state.content;
    const from = advance(state.content, 0, start);
    editor.setSelectionRange(from, advance(state.content, from, end - start));
    renderPeople();
  }

  // -- local edits and the caret ---------------------------------------------------------------

  editor.addEventListener("input", () => {
    for (const op of diff(state.content, editor.value)) state.edit(op);
    cursorWanted = true;
    flush();
  });

  function caretMoved() {
    cursorWanted = true;
    scheduleCursor();
  }

  // A cursor frame at most every CURSOR_EVERY_MS, and only while the text is the server's at
  // state.version (the position means nothing to the server otherwise; flush() asks again).
  function scheduleCursor() {
    if (cursorTimer !== null) return;
    cursorTimer = setTimeout(() => {
      cursorTimer = null;
      if (cursorWanted && state.settled) sendCursor();
    }, CURSOR_EVERY_MS);
  }

  function sendCursor() {
    cursorWanted = false;
    const text = editor.value;
    const position = points(text, 0, editor.selectionStart);
    const end = position + points(text, editor.selectionStart, editor.selectionEnd);
    send({ type: "cursor", cursor: { position, end }, version: state.version });
  }

  for (const name of ["keyup", "mouseup", "select", "focus"]) {
    editor.addEventListener(name, caretMoved);
  }

  // -- the people here ----------------------------------------------------------------------

  function lineAndColumn(position) {
    const before = state.content.slice(0, advance(state.content, 0, position));
    const lines = before.split("\n");
    return `line ${lines.length}, column ${points(lines[lines.length - 1]) + 1}`;
  }

  function renderPeople() {
    people.replaceChildren();
    for (const [sessionId, person] of present) {
      const item = document.createElement("li");
      const dot = document.createElement("span");
      dot.className = "dot";
      dot.style.backgroundColor = person.color;
      const name = document.createElement("span");
      name.textContent = person.name + (sessionId === state.session ? " (you)" : "");
      item.append(dot, name);
      if (person.cursor && sessionId !== state.session) {
        const where = document.createElement("small");
        where.textContent = " · " + lineAndColumn(person.cursor.position);
        item.append(where);
      }
      item.dataset.session = sessionId;
      people.append(item);
    }
  }

  connect();
})();
