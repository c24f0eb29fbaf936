// The collector's screen pop on /escalations: a card per transferred call, opened the moment
// the call rings at this collector and kept current while it goes on, from the Server-Sent
// Events of GET /api/me/pops. Everything goes in with textContent: transcripts are what
// people said and are never parsed as HTML. The server formats money, dates and labels.
(() => {
  "use strict";

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function transcript(list, lines) {
    list.replaceChildren();
    for (const line of lines) {
      const robot = line.speaker === "robot";
      const item = element("li", robot ? "robot" : "debtor");
      item.append(element("span", "who", robot ? "Робот:" : "Должник:"), " " + line.text);
      for (const tag of line.tags) item.append(" ", element("span", "tag", tag));
      list.append(item);
    }
    if (lines.length === 0) list.append(element("li", "muted", "Реплик пока нет"));
  }

  function caseLink(card, data) {
    const place = card.querySelector("[data-pop-case]");
    place.replaceChildren();
    if (data.case_url) {
      const link = element("a", "button", "Открыть обращение и записать итог");
      link.href = data.case_url;
      place.append(link);
    } else {
      place.append(element("span", "muted", "Обращение откроется, когда звонок закончится: итог разговора запишете в нём."));
    }
  }

  function debts(data) {
    const table = element("table", "grid pop-debts");
    const head = element("tr");
    for (const [title, className] of [["Услуга", ""], ["Период", ""], ["Долг", "num"], ["Пени", "num"]]) {
      head.append(element("th", className, title));
    }
    table.append(element("thead"), element("tbody"));
    table.tHead.append(head);
    for (const row of data.debts) {
      const tr = element("tr");
      tr.append(element("td", "", row.service), element("td", "", row.period),
        element("td", "num", row.debt), element("td", "num", row.peni));
      table.tBodies[0].append(tr);
    }
    return table;
  }

  function promises(data) {
    if (data.promises.length === 0) return element("p", "muted", "Обещаний раньше не было");
    const list = element("ul", "pop-promises");
    for (const p of data.promises) {
      const item = element("li", "", p.made_at + " · " + p.by + ": до " + p.due_on + ", " + p.amount + " ");
      item.append(element("span", "tag tag-" + p.status, p.status_title));
      list.append(item);
    }
    return list;
  }

  function render(data) {
    const card = element("article", "pop pop-" + data.state);
    card.dataset.transferId = String(data.transfer_id);
    card.dataset.test = "pop";
    card.dataset.firstState = data.state; // ringing when the pop came before the answer
    const title = element("h2", "", "Звонок переведён на вас — ");
    title.append(element("span", "pop-state", data.state_title));
    const who = element("p", "pop-account");
    who.append("ЛС ", element("strong", "", data.account_number), " · " + data.address + " · ",
      element("strong", "", data.debtor_name));
    const why = element("p", "", "Почему перевёл робот: ");
    why.append(element("span", "tag tag-reason", data.reason_title), " · звонок с " + data.ringing_at);
    const owed = element("p", "", "Долг: ");
    owed.append(element("strong", "", data.debt_total), ", пени " + data.peni_total);
    const lines = element("ol", "transcript pop-transcript");
    transcript(lines, data.transcript);
    const links = element("p", "pop-links");
    const account = element("a", "", "Карточка счёта");
    account.href = data.account_url;
    const casePlace = element("span");
    casePlace.dataset.popCase = "";
    links.append(casePlace, account);
    card.append(title, who, why, owed, debts(data), element("h3", "", "Разговор с роботом"), lines,
      element("h3", "", "Обещания раньше"), promises(data), links);
    caseLink(card, data);
    return card;
  }

  function update(root, data) {
    const card = root.querySelector('[data-transfer-id="' + String(data.transfer_id) + '"]');
    if (!card) return;
    card.className = "pop pop-" + data.state;
    card.querySelector(".pop-state").textContent = data.state_title;
    transcript(card.querySelector(".pop-transcript"), data.transcript);
    caseLink(card, data);
  }

  function start(root) {
    const source = new EventSource(root.dataset.popsUrl);
    source.addEventListener("pop", (event) => {
      const data = JSON.parse(event.data);
      const old = root.querySelector('[data-transfer-id="' + String(data.transfer_id) + '"]');
      const card = render(data);
      if (old) {
        card.dataset.firstState = old.dataset.firstState; // a reconnect re-sends the card
        old.replaceWith(card);
      } else {
        root.prepend(card);
      }
      root.hidden = false;
      if (!old) card.scrollIntoView({ block: "start" });
    });
    source.addEventListener("update", (event) => update(root, JSON.parse(event.data)));
    // "close" (renew or server stopping): the browser reconnects by itself after "retry".
    window.addEventListener("pagehide", () => source.close());
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.querySelector("[data-pops-url]");
    if (root && window.EventSource) start(root);
  });
})();
