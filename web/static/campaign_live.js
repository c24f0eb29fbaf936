// A campaign's live view: the figures the server rendered, kept current by Server-Sent
// Events (GET /api/campaigns/{id}/live). Text goes in with textContent only: transcripts
// are what people said and are never parsed as HTML.
(() => {
  "use strict";

  const money = new Intl.NumberFormat("ru-RU", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const clock = new Intl.DateTimeFormat("ru-RU", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Moscow" });
  const stamp = new Intl.DateTimeFormat("ru-RU", { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: "Europe/Moscow" });

  function field(data, path) {
    return path.split(".").reduce((value, key) => (value == null ? value : value[key]), data);
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderCall(call) {
    const article = element("article", "live-call");
    article.dataset.callId = String(call.call_id);
    const head = element("p", "live-call-head", "ЛС ");
    const link = element("a", "", call.account_number);
    link.href = "/accounts/" + encodeURIComponent(String(call.account_id));
    head.append(link, " · с " + clock.format(new Date(call.started_at)) + " · " + (call.answered ? "разговор идёт" : "дозваниваемся"));
    const lines = element("ol", "transcript");
    for (const line of call.lines) {
      const item = element("li", line.speaker === "robot" ? "robot" : "debtor");
      item.append(element("span", "who", line.speaker === "robot" ? "Робот:" : "Должник:"), " " + line.text);
      lines.append(item);
    }
    if (call.lines.length === 0) lines.append(element("li", "muted", "Реплик пока нет"));
    article.append(head, lines);
    return article;
  }

  function show(root, data, titles) {
    // The campaign's top row of figures sits outside the live section: the whole page.
    for (const node of document.querySelectorAll("[data-live]")) {
      node.textContent = String(field(data, node.dataset.live));
    }
    for (const node of document.querySelectorAll("[data-live-money]")) {
      node.textContent = money.format(Number(field(data, node.dataset.liveMoney))) + "\u00a0₽";
    }
    const bar = root.querySelector("[data-live-progress]");
    if (bar) {
      bar.max = Math.max(1, data.planned);
      bar.value = data.finished;
    }
    const calls = root.querySelector("[data-live-calls]");
    if (calls) {
      calls.replaceChildren(...data.calls.map(renderCall));
      if (data.calls.length === 0) calls.append(element("p", "muted", "Сейчас звонков нет"));
    }
    const leftOut = root.querySelector("[data-live-left-out]");
    if (leftOut) {
      const items = Object.entries(data.left_out).map(([reason, count]) => {
        const item = element("li", "", (titles[reason] || reason) + ": ");
        item.append(element("strong", "", String(count)));
        return item;
      });
      if (items.length === 0) items.push(element("li", "muted", "Никто не отложен: всем, кому можно, звоним по очереди"));
      leftOut.replaceChildren(...items);
    }
  }

  function start(root) {
    if (!("EventSource" in window)) return;
    const state = root.querySelector("[data-live-state]");
    let titles = {};
    try {
      titles = JSON.parse(root.dataset.leftOutTitles || "{}");
    } catch (_error) {
      titles = {};
    }
    const source = new EventSource(root.dataset.liveUrl);
    source.addEventListener("snapshot", (event) => {
      show(root, JSON.parse(event.data), titles);
      root.dataset.liveUpdated = String(Date.now());
      if (state) state.textContent = "обновлено в " + stamp.format(new Date());
    });
    source.addEventListener("close", () => {
      // The server renews the stream now and then (and on restart); EventSource reconnects.
      if (state) state.textContent = "переподключаемся…";
    });
    source.addEventListener("error", () => {
      if (state) state.textContent = "нет связи с сервером, переподключаемся…";
    });
    window.addEventListener("pagehide", () => source.close());
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("campaign-live");
    if (root) start(root);
  });
})();
