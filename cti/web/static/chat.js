// Chat panel of the agent page (docs/chat.md): conversations, messages, typing, receipts.
// Message text is attacker-controlled: it is rendered with textContent only, never as HTML.
// Per conversation the page keeps `last`, the highest seq applied; a chat_message that
// skips ahead, or a reconnect, asks the server for what is missing (chat_resume), and
// anything at or below `last` is dropped, so a message shows once and in order.
"use strict";

const chat = {
  conversations: new Map(), // id -> {id, kind, name, members, last, unread, messages: []}
  current: null,
  sent: 0,
  pending: new Map(), // request id -> chat_send not yet acknowledged (resent on reconnect)
  lastTyping: 0,
  typingTimer: null,
};
const CHAT_MAX_SHOWN = 200;

function chatSend(message) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(message));
  return true;
}

function chatTitle(c) {
  if (c.kind === "room") return c.name || "room " + c.id;
  if (c.kind === "customer") return "customer: " + (c.name || c.id);
  const me = session ? session.user.login : "";
  const others = c.members.map((m) => m.login).filter((l) => l !== me);
  return others.join(", ") || "(yourself)";
}

function chatRemember(raw) {
  const known = chat.conversations.get(raw.id);
  const c = known || { id: raw.id, last: 0, messages: [] };
  c.kind = raw.kind;
  c.name = raw.name;
  c.members = raw.members;
  c.lastSeq = Math.max(raw.last_seq, c.lastSeq || 0);
  c.unread = raw.unread;
  chat.conversations.set(c.id, c);
  return c;
}

function chatRenderList() {
  const list = $("chat-list");
  list.replaceChildren();
  for (const c of chat.conversations.values()) {
    const li = el("li");
    li.dataset.conversation = String(c.id);
    const button = el("button", chatTitle(c));
    button.type = "button";
    button.addEventListener("click", () => chatSelect(c.id));
    li.append(button);
    const presence = c.members
      .filter((m) => !session || m.login !== session.user.login)
      .map((m) => m.presence)
      .join(", ");
    if (presence) li.append(el("span", " " + presence, "muted presence"));
    if (c.unread > 0) li.append(el("span", String(c.unread), "unread"));
    if (c.id === chat.current) li.classList.add("current");
    list.append(li);
  }
}

function chatRenderLog() {
  const log = $("chat-log");
  log.replaceChildren();
  const c = chat.conversations.get(chat.current);
  $("chat-form").hidden = !c;
  if (!c) return;
  for (const m of c.messages) log.append(chatLine(m));
  log.scrollTop = log.scrollHeight;
}

function chatLine(m) {
  const p = el("p", null, "msg");
  p.dataset.seq = String(m.seq);
  p.append(el("b", m.from, "from"), el("span", m.text, "text"));
  return p;
}

async function chatLoad() {
  try {
    const response = await api("/api/chat/conversations");
    if (response.status === 503) $("chat").hidden = true; // this server has no chat
    if (!response.ok) return;
    for (const raw of await response.json()) {
      const c = chatRemember(raw);
      if (c.lastSeq > c.last && c.last > 0) chatResume(c);
    }
    chatRenderList();
  } catch (err) {
    console.warn("could not load conversations", err);
  }
}

function chatResume(c) {
  chatSend({ type: "chat_resume", id: "r" + c.id, conversation: c.id, after_seq: c.last });
}

async function chatSelect(id) {
  chat.current = id;
  const c = chat.conversations.get(id);
  if (c && c.last === 0 && c.lastSeq > 0) {
    // first look: the newest page over REST, then the socket keeps it current
    const response = await api("/api/chat/conversations/" + id + "/messages?limit=50");
    if (response.ok) chatApply(c, (await response.json()).messages);
  }
  chatMarkRead(c);
  chatRenderList();
  chatRenderLog();
  $("chat-text").focus();
}

function chatApply(c, messages) {
  for (const m of messages) {
    if (m.seq <= c.last) continue;
    c.messages.push(m);
    c.last = m.seq;
    c.lastSeq = Math.max(c.lastSeq || 0, m.seq);
  }
  if (c.messages.length > CHAT_MAX_SHOWN) c.messages.splice(0, c.messages.length - CHAT_MAX_SHOWN);
}

function chatMarkRead(c) {
  if (!c || c.last === 0) return;
  c.unread = 0;
  chatSend({ type: "chat_read", conversation: c.id, seq: c.last });
}

function chatOnMessage(event) {
  const m = event.message;
  const c = chat.conversations.get(m.conversation);
  if (!c) {
    chatLoad(); // a conversation we did not know yet: its list entry, then the resume
    return;
  }
  if (m.seq <= c.last) return; // already shown
  const mine = session && m.from === session.user.login;
  if (!mine && c.id !== chat.current) {
    chatSend({ type: "chat_delivered", conversation: c.id, seq: m.seq }); // a receipt
  }
  if (c.last === 0 && c.id !== chat.current) {
    // never opened here: count it; opening it loads the newest page
    c.lastSeq = Math.max(c.lastSeq || 0, m.seq);
    if (!mine) c.unread += 1;
    chatRenderList();
    return;
  }
  if (c.last > 0 && m.seq > c.last + 1) {
    chatResume(c); // a gap: fetch it, in order
    return;
  }
  chatApply(c, [m]);
  if (c.id === chat.current) {
    $("chat-log").append(chatLine(m));
    $("chat-log").scrollTop = $("chat-log").scrollHeight;
    if (!mine) chatMarkRead(c);
  } else if (!mine) {
    c.unread += 1;
  }
  chatRenderList();
}

function chatOnHistory(event) {
  const c = chat.conversations.get(event.conversation);
  if (!c) return;
  chatApply(c, event.messages);
  if (event.more) chatResume(c);
  if (c.id === chat.current) {
    chatRenderLog();
    chatMarkRead(c);
  }
}

function chatOnTyping(event) {
  if (event.conversation !== chat.current) return;
  $("chat-typing").textContent = event.from + " is typing…";
  clearTimeout(chat.typingTimer);
  chat.typingTimer = setTimeout(() => ($("chat-typing").textContent = ""), 4000);
}

function chatOnRead(event) {
  const c = chat.conversations.get(event.conversation);
  if (!c) return;
  for (const m of c.members) if (m.login === event.login) m.last_read_seq = event.read_seq;
}

// Someone's presence changed (sent on change only): every conversation they are in shows
// it. Text only (textContent through el()), like everything a server or peer sends.
function chatOnPresence(event) {
  let seen = false;
  for (const c of chat.conversations.values()) {
    for (const m of c.members) {
      if (m.login === event.login) {
        m.presence = event.presence;
        seen = true;
      }
    }
  }
  if (seen) chatRenderList();
}

// Unnumbered answers to our own requests.
function chatReply(event) {
  if (event.type === "chat_history") {
    chatOnHistory(event);
    return;
  }
  chat.pending.delete(event.id); // answered: stored (ack) or refused (error)
  if (event.type === "chat_error") $("chat-error").textContent = event.message;
  else if (event.type === "chat_ack") $("chat-error").textContent = "";
}

// The sender's own id for a message: a resend with it is stored once (docs/chat.md).
function chatClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function chatOnSubmit(e) {
  e.preventDefault();
  const input = $("chat-text");
  const text = input.value;
  if (!text.trim() || chat.current === null) return;
  chat.sent += 1;
  const message = {
    type: "chat_send",
    id: "m" + chat.sent,
    conversation: chat.current,
    text,
    client_id: chatClientId(),
  };
  chat.pending.set(message.id, message);
  if (!chatSend(message)) $("chat-error").textContent = "not connected: sending when back";
  input.value = "";
}

function chatOnInput() {
  const now = Date.now();
  if (chat.current === null || now - chat.lastTyping < 3000) return;
  chat.lastTyping = now;
  chatSend({ type: "chat_typing", conversation: chat.current });
}

async function chatOnOpen(e) {
  e.preventDefault();
  const login = $("chat-peer").value.trim();
  if (!login) return;
  const response = await api("/api/chat/direct", { method: "POST", body: JSON.stringify({ login }) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    $("chat-error").textContent = typeof data.message === "string" ? data.message : "could not open";
    return;
  }
  $("chat-peer").value = "";
  chatRemember(data);
  chatSelect(data.id);
}

// app.js calls these.
function chatStart() {
  $("chat").hidden = false;
  chatLoad();
}

function chatConnected() {
  // after a reconnect: what we sent without an answer (stored once, by client_id),
  // then whatever was sent to us meanwhile
  for (const message of chat.pending.values()) chatSend(message);
  chatLoad();
}

function chatForget() {
  chat.conversations.clear();
  chat.pending.clear();
  chat.current = null;
  $("chat-list").replaceChildren();
  $("chat-log").replaceChildren();
  $("chat").hidden = true;
}

document.addEventListener("DOMContentLoaded", () => {
  $("chat-form").addEventListener("submit", chatOnSubmit);
  $("chat-text").addEventListener("input", chatOnInput);
  $("chat-open").addEventListener("submit", chatOnOpen);
});
