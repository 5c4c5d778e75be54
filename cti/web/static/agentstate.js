// The agent's own work state on the agent page: state, time in state, and the
// buttons to pause (with a reason from the server's list), unpause, and end
// wrap-up early.
//
// Strategy: the server is the authority. The bar shows the last `agent_state`
// event for the user's own interface (agents receive their own, supervisors
// every one), seeded from GET /api/agents; the buttons send WebSocket commands
// through controls.js (`sendCommand`), and the bar changes only when Asterisk's
// echo comes back as an `agent_state` event, never optimistically.
"use strict";

const STATE_LABELS = {
  logged_out: "Logged out",
  available: "Available",
  ringing: "Ringing",
  on_call: "On a call",
  wrap_up: "Wrap-up",
  paused: "Paused",
};

let myState = null; // {state, reason, since}
let stateClock = null;

function stateBar() {
  return $("agent-state");
}

function describeState(s) {
  const label = STATE_LABELS[s.state] || s.state;
  return s.reason ? label + " (" + s.reason + ")" : label;
}

function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const mm = String(Math.floor(s / 60) % 60).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return (s >= 3600 ? Math.floor(s / 3600) + ":" : "") + mm + ":" + ss;
}

function renderState() {
  const bar = stateBar();
  if (!myState) {
    $("state-name").textContent = "unknown";
    $("state-since").textContent = "";
    return;
  }
  $("state-name").textContent = describeState(myState);
  $("state-name").dataset.state = myState.state;
  const since = myState.since != null ? Date.now() / 1000 - myState.since : null;
  $("state-since").textContent = since != null ? formatDuration(since) : "";
  const loggedIn = myState.state !== "logged_out";
  $("state-pause").hidden = !loggedIn || myState.state === "paused";
  $("state-unpause").hidden = myState.state !== "paused";
  $("state-end-wrap").hidden = myState.state !== "wrap_up";
  syncControls(bar);
}

// An `agent_state` event: ours updates the bar (others are the supervisor list's).
function stateOnEvent(e) {
  if (!session || !session.user.interface || e.interface !== session.user.interface) return;
  myState = { state: e.state, reason: e.reason, since: e.since };
  renderState();
}

async function loadReasons() {
  const select = $("state-reason");
  try {
    const response = await api("/api/agents/pause-reasons");
    if (!response.ok) return;
    const body = await response.json();
    select.replaceChildren(...body.reasons.map((r) => {
      const option = el("option", r);
      option.value = r;
      return option;
    }));
  } catch (err) {
    console.warn("could not load pause reasons", err);
  }
}

async function loadMyState() {
  try {
    const response = await api("/api/agents");
    if (!response.ok) return;
    for (const agent of await response.json()) stateOnEvent(agent);
  } catch (err) {
    console.warn("could not load agent state", err);
  }
}

function stateStart() {
  const bar = stateBar();
  bar.hidden = !(session && session.user.interface);
  if (bar.hidden) return;
  if (!bar.dataset.ready) {
    bar.dataset.ready = "1";
    const send = (fields) => sendCommand(bar, stateBar, fields);
    $("state-pause").addEventListener("click", () =>
      send({ command: "agent_pause", reason: $("state-reason").value }));
    $("state-unpause").addEventListener("click", () => send({ command: "agent_unpause" }));
    $("state-end-wrap").addEventListener("click", () => send({ command: "end_wrap_up" }));
  }
  myState = null;
  renderState();
  loadReasons();
  loadMyState();
  clearInterval(stateClock);
  stateClock = setInterval(renderState, 1000);
}
