// «Репетиция» on a script's page: the answers typed so far go to the server, which replays
// the call with the real classifier and engine; each robot line gets its voice as a WAV.
// The server keeps nothing between turns, so the whole list of answers is sent each time.
"use strict";

function rehearsalLine(line) {
  const item = document.createElement("li");
  item.className = "rehearsal-" + line.speaker;
  item.dataset.speaker = line.speaker;
  const who = document.createElement("strong");
  who.textContent = { robot: "Робот: ", debtor: "Должник: ", event: "" }[line.speaker] || "";
  item.append(who, document.createTextNode(line.text));
  if (line.tags && line.tags.length) {
    const tags = document.createElement("span");
    tags.className = "muted small";
    tags.textContent = " [" + line.tags.join(", ") + "]";
    item.append(tags);
  }
  if (line.audio) {
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "none";
    audio.src = line.audio;
    item.append(document.createElement("br"), audio);
  }
  return item;
}

function startRehearsal(root) {
  const list = root.querySelector("[data-rehearsal-lines]");
  const form = root.querySelector("[data-rehearsal-form]");
  const status = root.querySelector("[data-rehearsal-status]");
  const button = form.querySelector("button[type=submit]");
  let answers = [];

  async function play(nextAnswers) {
    button.disabled = true;
    status.textContent = "Робот думает…";
    const body = {
      organisation_id: Number(root.dataset.organisation),
      version: Number(root.dataset.version),
      answers: nextAnswers,
    };
    try {
      const response = await fetch("/api/scripts/" + root.dataset.script + "/rehearsal", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf },
        body: JSON.stringify(body),
      });
      const result = await response.json();
      if (!response.ok) {
        status.textContent = result.error || "Не получилось";
        return;
      }
      answers = nextAnswers;
      list.replaceChildren(...result.lines.map(rehearsalLine));
      const ended = result.asked === null;
      status.textContent = ended ? "Звонок завершён. «Начать заново» — с начала." : "";
      button.disabled = ended;
      root.dataset.state = ended ? "ended" : "listening";
      root.dataset.turns = String(answers.length);
    } catch (error) {
      status.textContent = "Нет связи с сервером";
    } finally {
      if (root.dataset.state !== "ended") button.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = form.elements.namedItem("answer");
    const answer = input.value.trim();
    input.value = "";
    play(answers.concat([answer]));
  });
  root.querySelector("[data-rehearsal-restart]").addEventListener("click", () => play([]));
  play([]);
}

document.querySelectorAll("[data-rehearsal]").forEach(startRehearsal);
