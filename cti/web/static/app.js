// CTI agent page: log in, hold one WebSocket, render screen-pops as cards.
// Data from the server is rendered with textContent only: caller names and IVR
// values are attacker-controlled, so no HTML sink is ever used.
"use strict";

const store = window.sessionStorage;
const $ = (id) => document.getElementById(id);
const MAX_CARDS = 50;

let session = JSON.parse(store.getItem("cti.session") || "null"); // {token, user}
let position = JSON.parse(store.getItem("cti.position") || "null"); // {stream_id, seq}
let socket = null;
let retry = 0;
let retryTimer = null;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function setStatus(text, cls) {
  const s = $("status");
  s.textContent = text;
  s.className = "status " + cls;
}

function savePosition(streamId, seq) {
  position = { stream_id: streamId, seq: seq };
  store.setItem("cti.position", JSON.stringify(position));
}

async function api(path, options = {}) {
  const headers = Object.assign({ "Content-Type": "application/json" }, options.headers || {});
  if (session) headers.Authorization = "Bearer " + session.token;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401 && session) {
    logout("Session expired, please log in again.");
    throw new Error("unauthorised");
  }
  return response;
}

// ---- login / logout -------------------------------------------------------

async function onLogin(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  const body = { login: $("login-name").value, password: $("login-password").value };
  const response = await fetch("/api/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    $("login-error").textContent = typeof data.detail === "string" ? data.detail : "Login failed";
    return;
  }
  session = { token: data.token, user: data.user };
  store.setItem("cti.session", JSON.stringify(session));
  savePosition(data.stream.stream_id, data.stream.seq);
  $("login-password").value = "";
  start();
}

function logout(message) {
  session = null;
  position = null;
  store.removeItem("cti.session");
  store.removeItem("cti.position");
  clearTimeout(retryTimer);
  if (socket) {
    socket.onclose = null;
    socket.close(1000);
    socket = null;
  }
  forgetControls();
  chatForget();
  $("pops").replaceChildren();
  $("workspace").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("who").textContent = "";
  $("login-error").textContent = message || "";
  setStatus("disconnected", "off");
}

function start() {
  $("login").hidden = true;
  $("workspace").hidden = false;
  $("logout").hidden = false;
  const u = session.user;
  $("who").textContent = u.display_name + " (" + (u.interface || u.role) + ")";
  $("supervisor").hidden = u.role === "agent";
  setupDial();
  stateStart();
  boardStart();
  loadCalls();
  chatStart();
  connect();
}

// ---- WebSocket --------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const params = new URLSearchParams({ token: session.token });
  if (position) {
    params.set("since", String(position.seq));
    params.set("stream_id", position.stream_id);
  }
  setStatus("connecting…", "wait");
  socket = new WebSocket(scheme + "//" + location.host + "/ws?" + params.toString());
  socket.onmessage = (message) => onEvent(JSON.parse(message.data));
  socket.onclose = onClose;
}

function onClose(event) {
  socket = null;
  failPendingCommands("connection lost");
  if (event.code === 4401) {
    logout("Session ended: " + (event.reason || "please log in again"));
    return;
  }
  // Anything else (network drop, server restart, 4429 too slow): come back with since.
  const delay = Math.min(10000, 500 * 2 ** retry) * (0.5 + Math.random() / 2);
  retry += 1;
  setStatus("reconnecting…", "wait");
  retryTimer = setTimeout(connect, delay);
}

function onEvent(event) {
  switch (event.type) {
    case "hello":
      retry = 0;
      setStatus("connected", "on");
      if (!position || position.stream_id !== event.stream_id) {
        savePosition(event.stream_id, event.seq);
      }
      chatConnected();
      return;
    case "chat_ack":
    case "chat_error":
    case "chat_history":
      chatReply(event); // answers to our chat requests (chat.js): not numbered
      return;
    case "command_result":
      // An answer to one of our commands (controls.js): not a numbered event.
      controlsResult(event);
      return;
    case "resync":
      // Missed events are gone (server restart or too long away): reload the snapshot.
      savePosition(event.stream_id, event.seq);
      loadCalls();
      return;
  }
  if (position && event.stream_id === position.stream_id && event.seq <= position.seq) {
    return; // already seen
  }
  savePosition(event.stream_id, event.seq);
  const handler = HANDLERS[event.type];
  if (handler) handler(event);
}

const RING_ENDED = {
  no_answer: "missed (no answer)",
  answered_elsewhere: "answered elsewhere",
  cancelled: "caller hung up",
};

const HANDLERS = {
  screen_pop: renderPop,
  call_answered: (e) => markCall(e.call_id, "answered", "answered by " + e.interface),
  call_customer: fillCustomer,
  ring_ended: (e) => markCall(e.call_id, "ended", RING_ENDED[e.reason] || "stopped ringing"),
  call_ended: (e) => {
    const talk = e.talk_seconds != null ? ", talked " + Math.round(e.talk_seconds) + " s" : "";
    markCall(e.call_id, "ended", "ended: " + e.outcome + talk);
  },
  agent_state: (e) => {
    stateOnEvent(e); // our own state bar (agentstate.js)
    upsertLine("agents", e.interface, e.name + " " + e.interface + ": " + e.state +
      (e.reason ? " (" + e.reason + ")" : ""));
  },
  chat_message: (e) => chatOnMessage(e),
  chat_offer: () => chatLoad(), // a customer web chat was given to us
  chat_typing: (e) => chatOnTyping(e),
  chat_read: (e) => chatOnRead(e),
  chat_presence: (e) => chatOnPresence(e),
  queue_board: (e) => boardOnEvent(e), // the wallboard (board.js)
  queue_state: (e) =>
    upsertLine("queues", e.queue, e.queue + ": " + e.waiting + " waiting, " +
      e.members.length + " members"),
};

// ---- rendering ---------------------------------------------------------------

function addRow(dl, label, value) {
  if (value === undefined || value === null || value === "") return;
  dl.append(el("dt", label), el("dd", value));
}

function pairs(obj) {
  return Object.entries(obj || {}).map(([k, v]) => k + "=" + v).join(", ");
}

function cardFor(callId) {
  return document.querySelector('[data-call="' + CSS.escape(callId) + '"]');
}

function renderPop(pop) {
  const card = el("article", null, "card");
  card.dataset.call = pop.call_id;
  card.append(el("span", pop.late ? "ringing (late)" : "ringing", "badge"));
  card.append(el("h3", (pop.caller_name || "Unknown caller") + " · " + pop.caller_number));

  card.append(customerBox(pop.customer, pop.customer_pending ? "looking up customer…" : null));

  const dl = el("dl");
  addRow(dl, "Dialed", pop.dialed_number);
  addRow(dl, "Queue", pop.queue);
  if (pop.waited_seconds != null) addRow(dl, "Waited", Math.round(pop.waited_seconds) + " s");
  addRow(dl, "Account entered", pop.account);
  card.append(dl);

  if (pop.ivr_path && pop.ivr_path.length) {
    card.append(el("h4", "IVR path"));
    const ol = el("ol");
    for (const step of pop.ivr_path) {
      const values = pairs(step.values);
      ol.append(el("li", values ? step.step + ": " + values : step.step));
    }
    card.append(ol);
  }
  const vars = Object.entries(pop.variables || {});
  if (vars.length) {
    card.append(el("h4", "Variables"));
    const vdl = el("dl");
    for (const [k, v] of vars) addRow(vdl, k, v);
    card.append(vdl);
  }
  card.append(callControls(pop.call_id));
  card.append(el("small", "call " + pop.call_id, "muted"));
  placeCard(pop.call_id, card);
}

// The customer block of a card: the record, a pending note, or "no record".
function customerBox(c, pending) {
  const box = el("div", null, "customer");
  const dl = el("dl");
  if (c) {
    addRow(dl, "Customer", c.name);
    addRow(dl, "Account", c.account);
    addRow(dl, "Notes", c.notes);
  } else {
    addRow(dl, "Customer", pending || "no customer record");
  }
  box.append(dl);
  return box;
}

// A pop went out before its customer look-up finished: fill the card in.
function fillCustomer(e) {
  const card = cardFor(e.call_id);
  if (!card) return;
  const old = card.querySelector(".customer");
  const box = customerBox(e.customer, e.lookup_failed ? "customer look-up failed" : null);
  if (old) old.replaceWith(box);
  else card.append(box);
}

function renderSnapshotCall(call) {
  if (cardFor(call.call_id)) return;
  renderPop({
    call_id: call.call_id,
    caller_number: call.caller_number,
    caller_name: call.caller_name,
    dialed_number: call.dialed_number,
    queue: call.queue,
    ivr_path: call.ivr_path,
    variables: call.variables,
    account: call.account,
  });
  if (call.answered_at) markCall(call.call_id, "answered", call.state);
}

function placeCard(callId, card) {
  const old = cardFor(callId);
  if (old) old.replaceWith(card);
  else $("pops").prepend(card);
  const cards = $("pops").children;
  while (cards.length > MAX_CARDS) cards[cards.length - 1].remove();
  $("empty").hidden = cards.length > 0;
}

function markCall(callId, cls, text) {
  const card = cardFor(callId);
  if (!card) return;
  card.classList.remove("answered", "ended");
  card.classList.add(cls);
  card.querySelector(".badge").textContent = text;
  if (cls === "ended") consulting.delete(callId);
  syncControls(card.querySelector(".controls")); // an ended call's controls go dead
}

function upsertLine(listId, key, text) {
  const list = $(listId);
  let li = list.querySelector('[data-key="' + CSS.escape(key) + '"]');
  if (!li) {
    li = el("li");
    li.dataset.key = key;
    list.append(li);
  }
  li.textContent = text;
}

async function loadCalls() {
  try {
    const response = await api("/api/calls");
    if (response.ok) for (const call of await response.json()) renderSnapshotCall(call);
  } catch (err) {
    console.warn("could not load calls", err);
  }
}

// ---- boot -----------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", () => logout(""));
  if (session) start();
});
