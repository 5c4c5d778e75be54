// Call controls on the agent page: the Dial box and the buttons of each call card.
//
// Strategy: every control sends one WebSocket `command` (docs/events.md,
// "Commands") on the page's socket (`socket`, app.js) and waits for the
// `command_result` with the same id. The server is the only authority: the
// patterns below mirror its checks to flag a bad value while it is typed
// (`pattern` + aria-invalid), but what is typed is still sent and the server's
// verdict is what the page shows, so the two can never disagree silently.
// While a command is in flight the controls it came from are disabled: a
// second click cannot send a duplicate hangup or transfer. A result that never
// comes (socket dropped: results are not replayed; server stuck) is settled by
// the page itself, so no control stays disabled for good. Everything is
// rendered with textContent (`el`, app.js): error messages may quote Asterisk.
"use strict";

// The server's patterns (cti/control/commands.py), anchored there as here.
const NUMBER_PATTERN = "[0-9*#+]{1,32}";
const DIGITS_PATTERN = "[0-9*#A-D]{1,32}";
const COMMAND_TIMEOUT_MS = 15000; // server gives up on Asterisk after action_timeout (5 s)
const SPY_ROLES = new Set(["supervisor", "admin"]);

let commandCount = 0;
const pendingCommands = new Map(); // id -> {command, box(): Element|null, timer}
const consulting = new Set(); // call ids with an attended transfer under way

function controlButton(text, onClick, cls) {
  const button = el("button", text, cls);
  button.type = "button";
  button.addEventListener("click", onClick);
  return button;
}

function patternInput(pattern, placeholder, label) {
  const input = el("input");
  input.pattern = pattern;
  input.maxLength = 32;
  input.placeholder = placeholder;
  input.autocomplete = "off";
  input.setAttribute("aria-label", label);
  input.title = label + ": " + pattern;
  input.addEventListener("input", () => {
    const bad = input.value !== "" && !new RegExp("^(?:" + pattern + ")$").test(input.value);
    input.setAttribute("aria-invalid", bad ? "true" : "false");
  });
  return input;
}

// Enable or disable a control box's inputs: busy while a command runs, dead
// once its call ended; show the transfer buttons that fit the consult state.
function syncControls(box) {
  if (!box) return;
  const card = box.closest(".card");
  const ended = card !== null && card.classList.contains("ended");
  const busy = box.dataset.busy === "1";
  for (const node of box.querySelectorAll("button, input")) node.disabled = busy || ended;
  const consult = box.dataset.controls !== undefined && consulting.has(box.dataset.controls);
  for (const node of box.querySelectorAll(".idle-only")) node.hidden = consult;
  for (const node of box.querySelectorAll(".consult-only")) node.hidden = !consult;
}

function showResult(box, state, text) {
  const line = box.querySelector(".result");
  line.textContent = text;
  line.className = "result " + state; // ok | failed | running
}

function controlsOf(callId) {
  const card = cardFor(callId);
  return card ? card.querySelector(".controls") : null;
}

// Send `fields` ({command, ...}) for the controls in `box`; `find` re-finds the
// box when the answer comes (the card may have been re-rendered meanwhile).
function sendCommand(box, find, fields) {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    showResult(box, "failed", fields.command + ": not connected, try again in a moment");
    return;
  }
  commandCount += 1;
  const id = "ctl-" + commandCount;
  const timer = setTimeout(
    () => settleCommand(id, false, "no answer from the server"),
    COMMAND_TIMEOUT_MS,
  );
  pendingCommands.set(id, { command: fields.command, box: find, timer });
  box.dataset.busy = "1";
  syncControls(box);
  showResult(box, "running", fields.command + "…");
  socket.send(JSON.stringify(Object.assign({ type: "command", id: id }, fields)));
}

function settleCommand(id, ok, text, code) {
  const entry = pendingCommands.get(id);
  if (!entry) return false;
  pendingCommands.delete(id);
  clearTimeout(entry.timer);
  const box = entry.box();
  if (box) {
    delete box.dataset.busy;
    afterCommand(entry.command, box.dataset.controls, ok, code);
    syncControls(box);
    showResult(box, ok ? "ok" : "failed", entry.command + ": " + text);
  }
  return true;
}

// The consult state of a card follows the answers: started by an accepted
// attended_transfer, over once complete/cancel went through, or once the
// server says there is no consultation (or no call) left to act on; a timeout
// or a refusal by Asterisk leaves it as it was, so the user can try again.
function afterCommand(command, callId, ok, code) {
  if (command === "attended_transfer" && ok) consulting.add(callId);
  if (command === "attended_transfer_complete" || command === "attended_transfer_cancel") {
    if (ok || code === "invalid" || code === "call_gone") consulting.delete(callId);
  }
}

// A `command_result` frame; false when it answers none of ours.
function controlsResult(result) {
  if (result.ok) {
    const detail = result.message ? " (" + result.message + ")" : "";
    return settleCommand(result.id, true, "ok" + detail);
  }
  const error = result.error || {};
  return settleCommand(result.id, false, error.message || error.code || "failed", error.code);
}

// The socket closed: answers to what is in flight will never come.
function failPendingCommands(reason) {
  for (const id of Array.from(pendingCommands.keys())) {
    settleCommand(id, false, reason + ": the result is unknown");
  }
}

// The control block of one call card.
function callControls(callId) {
  const box = el("div", null, "controls");
  box.dataset.controls = callId; // not data-call: cardFor() selects cards by that
  const find = () => controlsOf(callId);
  const send = (fields) => sendCommand(box, find, Object.assign({ call_id: callId }, fields));

  const basic = el("div", null, "row");
  basic.append(
    controlButton("Hang up", () => send({ command: "hangup" }), "danger"),
    controlButton("Hold", () => send({ command: "hold" })),
    controlButton("Resume", () => send({ command: "unhold" })),
  );

  const transfer = el("div", null, "row");
  const target = patternInput(NUMBER_PATTERN, "transfer to", "Transfer target");
  target.inputMode = "tel";
  transfer.append(
    target,
    controlButton(
      "Blind transfer",
      () => send({ command: "transfer", target: target.value }),
      "idle-only",
    ),
    controlButton(
      "Consult",
      () => send({ command: "attended_transfer", target: target.value }),
      "idle-only",
    ),
    controlButton(
      "Complete transfer",
      () => send({ command: "attended_transfer_complete" }),
      "consult-only",
    ),
    controlButton(
      "Cancel consult",
      () => send({ command: "attended_transfer_cancel" }),
      "consult-only",
    ),
  );

  const dtmf = el("div", null, "row");
  const digits = patternInput(DIGITS_PATTERN, "DTMF digits", "DTMF digits");
  const sendDigits = () => send({ command: "dtmf", digits: digits.value });
  digits.addEventListener("keydown", (event) => {
    if (event.key === "Enter") sendDigits();
  });
  dtmf.append(digits, controlButton("Send DTMF", sendDigits));

  box.append(basic, transfer, dtmf);
  if (session && SPY_ROLES.has(session.user.role)) {
    const spy = el("div", null, "row");
    spy.append(
      controlButton("Listen", () => send({ command: "listen" })),
      controlButton("Whisper", () => send({ command: "whisper" })),
      controlButton("Barge", () => send({ command: "barge" })),
    );
    box.append(spy);
  }
  const result = el("p", null, "result");
  result.setAttribute("role", "status");
  box.append(result);
  syncControls(box);
  return box;
}

// The Dial box: shown to users with a phone of their own.
function setupDial() {
  const form = $("dial");
  form.hidden = !(session && session.user.interface);
  if (form.dataset.ready) return;
  form.dataset.ready = "1";
  const input = $("dial-number");
  input.pattern = NUMBER_PATTERN;
  input.addEventListener("input", () => {
    const bad = input.value !== "" && !new RegExp("^(?:" + NUMBER_PATTERN + ")$").test(input.value);
    input.setAttribute("aria-invalid", bad ? "true" : "false");
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendCommand(form, () => $("dial"), { command: "dial", number: input.value });
  });
}

function forgetControls() {
  failPendingCommands("logged out");
  consulting.clear();
  $("dial").hidden = true;
  showResult($("dial"), "", "");
}
