// The supervisor's wallboard on the agent page: one row per queue, from the
// `queue_board` events (at most 4 per second per queue, coalesced by the
// server) and, at start, GET /api/queues/metrics.
//
// Strategy: each event carries the whole board of one queue, so a row is
// simply replaced; nothing is computed here (the definitions in use come with
// the board and are shown in the header's title). Everything is rendered with
// textContent. Windows: "today" (since the queue's reset time) or the sliding
// 15 / 60 minutes, chosen with the select.
"use strict";

const BOARD_COLUMNS = [
  ["Queue", (b) => b.queue],
  ["Waiting", (b) => String(b.waiting)],
  ["Longest wait", (b) => seconds(b.longest_wait_seconds)],
  ["SL %", (b, w) => percent(w.service_level)],
  ["Offered", (b, w) => String(w.offered)],
  ["Answered", (b, w) => String(w.answered)],
  ["Abandoned", (b, w) => String(w.abandoned)],
  ["Abandon %", (b, w) => percent(w.abandon_rate)],
  ["ASA", (b, w) => seconds(w.asa_seconds)],
  ["AHT", (b, w) => seconds(w.aht_seconds)],
  ["Occupancy %", (b, w) => percent(w.occupancy)],
  ["Available", (b) => String(b.agents.available || 0)],
  ["On call", (b) => String((b.agents.on_call || 0) + (b.agents.ringing || 0))],
  ["Wrap-up", (b) => String(b.agents.wrap_up || 0)],
  ["Paused", (b) => pausedText(b)],
];

const boards = new Map(); // queue -> last board

function seconds(value) {
  return value == null ? "-" : Math.round(value) + " s";
}

function percent(value) {
  return value == null ? "-" : value.toFixed(1);
}

function pausedText(b) {
  const reasons = Object.entries(b.pause_reasons || {}).map(([r, n]) => r + " " + n);
  const count = String(b.agents.paused || 0);
  return reasons.length ? count + " (" + reasons.join(", ") + ")" : count;
}

function boardWindow(b) {
  return b[$("board-window").value] || b.today;
}

function renderBoard() {
  const table = $("board");
  const head = el("tr");
  for (const [title] of BOARD_COLUMNS) head.append(el("th", title));
  const rows = [head];
  for (const queue of Array.from(boards.keys()).sort()) {
    const b = boards.get(queue);
    const w = boardWindow(b);
    const tr = el("tr");
    tr.dataset.queue = queue;
    for (const [title, cell] of BOARD_COLUMNS) {
      const td = el("td", cell(b, w));
      td.dataset.col = title;
      tr.append(td);
    }
    const sl = b.definition && b.definition.service_level;
    if (sl) tr.title = "SL: " + sl.text + ", T = " + sl.threshold_seconds + " s";
    rows.push(tr);
  }
  table.replaceChildren(...rows);
}

function boardOnEvent(e) {
  boards.set(e.queue, e);
  renderBoard();
}

async function boardStart() {
  const section = $("board-section");
  section.hidden = !session || session.user.role === "agent";
  if (section.hidden) return;
  if (!section.dataset.ready) {
    section.dataset.ready = "1";
    $("board-window").addEventListener("change", renderBoard);
  }
  try {
    const response = await api("/api/queues/metrics");
    if (!response.ok) return;
    for (const b of await response.json()) boards.set(b.queue, b);
    renderBoard();
  } catch (err) {
    console.warn("could not load the queue boards", err);
  }
}
