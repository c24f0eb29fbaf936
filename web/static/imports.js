// «Загрузка из 1С»: send the file (with the CSRF header, so the server streams the body
// instead of parsing a form) and follow a running job's progress bar.
"use strict";

function showUploadError(form, text) {
  const error = form.querySelector("[data-upload-error]");
  error.textContent = text;
  error.hidden = false;
}

function upload(form, event) {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  const bar = form.querySelector("[data-upload-progress]");
  form.querySelector("[data-upload-error]").hidden = true;
  const request = new XMLHttpRequest();
  request.open("POST", form.getAttribute("action"));
  request.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
  request.responseType = "json";
  request.upload.addEventListener("progress", (progress) => {
    if (progress.lengthComputable) bar.value = Math.floor((progress.loaded / progress.total) * 100);
  });
  request.addEventListener("load", () => {
    const body = request.response || {};
    if (request.status === 202 && body.url) {
      window.location.assign(body.url);
      return;
    }
    button.disabled = false;
    bar.hidden = true;
    showUploadError(form, body.error || "Файл не принят (" + request.status + ").");
  });
  request.addEventListener("error", () => {
    button.disabled = false;
    bar.hidden = true;
    showUploadError(form, "Связь с сервером прервалась; попробуйте ещё раз.");
  });
  button.disabled = true;
  bar.hidden = false;
  request.send(new FormData(form));
}

function follow(section) {
  const id = section.dataset.importJob;
  const started = section.dataset.status;
  const bar = section.querySelector("[data-progress-bar]");
  const title = section.querySelector("[data-progress-title]");
  const percent = section.querySelector("[data-progress-percent]");
  const poll = async () => {
    try {
      const response = await fetch("/api/imports/" + id, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const job = await response.json();
        if (job.status !== started) {
          window.location.reload();  // the server renders the result, the preview, the errors
          return;
        }
        bar.value = job.progress.percent;
        title.textContent = job.progress.title;
        percent.textContent = String(job.progress.percent);
      }
    } catch (error) {
      // A dropped connection: try again at the next tick.
    }
    window.setTimeout(poll, 700);
  };
  window.setTimeout(poll, 300);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-import-upload]")) {
    form.addEventListener("submit", (event) => upload(form, event));
  }
  for (const section of document.querySelectorAll("[data-import-job]")) {
    if (section.dataset.status === "checking" || section.dataset.status === "importing") follow(section);
  }
});
