// Customer web chat widget (docs/chat.md, "Customer web chat").
// The queue comes from the page URL: /webchat?queue=support. Every text is
// shown with textContent: a message is text, never markup.
"use strict";
(function () {
  const queue = new URLSearchParams(location.search).get("queue") || "support";
  const log = document.getElementById("log");
  const status = document.getElementById("status");
  let token = sessionStorage.getItem("webchat-token");
  let last = 0;
  let ws = null;

  function show(who, text) {
    const line = document.createElement("div");
    line.className = "msg";
    const from = document.createElement("span");
    from.className = "from";
    from.textContent = who;
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    line.append(from, body);
    log.append(line);
    log.scrollTop = log.scrollHeight;
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams({ token: token, after: String(last) });
    ws = new WebSocket(`${proto}//${location.host}/ws/webchat?${params}`);
    ws.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "chat_message") {
        const m = data.message;
        if (m.seq <= last) return;
        last = m.seq;
        show(m.from.startsWith("customer.") ? "You:" : "Agent:", m.text);
      } else if (data.type === "chat_assigned") {
        status.textContent = `You are chatting with ${data.agent}`;
      } else if (data.type === "chat_waiting") {
        status.textContent = "Waiting for an agent…";
      } else if (data.type === "chat_ended") {
        status.textContent = "The chat has ended.";
        sessionStorage.removeItem("webchat-token");
      } else if (data.type === "chat_error") {
        status.textContent = data.message;
      }
    };
    ws.onclose = (event) => {
      if (event.code === 4401) {
        status.textContent = "This chat is no longer available.";
        sessionStorage.removeItem("webchat-token");
        return;
      }
      setTimeout(connect, 1000);
    };
    document.getElementById("start").hidden = true;
    document.getElementById("send").hidden = false;
  }

  document.getElementById("start").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = document.getElementById("name").value.trim();
    const response = await fetch("/api/webchat/start", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(name ? { queue: queue, name: name } : { queue: queue }),
    });
    const body = await response.json();
    if (!response.ok) {
      status.textContent = body.message || "The chat could not start.";
      return;
    }
    token = body.token;
    sessionStorage.setItem("webchat-token", token);
    connect();
  });

  document.getElementById("send").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("text");
    const text = input.value;
    if (!text.trim() || !ws || ws.readyState !== WebSocket.OPEN) return;
    const id = `m${Date.now()}${Math.random().toString(36).slice(2, 8)}`;
    ws.send(JSON.stringify({ type: "chat_send", id: id, client_id: id, text: text }));
    input.value = "";
  });

  if (token) connect();
})();
