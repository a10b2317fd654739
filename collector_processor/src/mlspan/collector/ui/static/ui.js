// mlspan web UI: the only script. It sends the write controls (flag, unflag, tags,
// notes) to the query API's own JSON routes, so the API's access checks apply, then
// reloads the page. Pages work without it; only writing needs it.
"use strict";

function mlspanSend(method, url, body) {
  // Every write says JSON, body or not: the API refuses other writes (415), which keeps
  // plain forms on other sites from writing.
  const init = {
    method: method,
    headers: { "Accept": "application/json", "Content-Type": "application/json" },
  };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
  }
  return fetch(url, init).then(function (response) {
    if (response.ok) { window.location.reload(); return; }
    return response.json().then(
      function (answer) { alert("Refused (" + response.status + "): " + answer.error.message); },
      function () { alert("Refused (" + response.status + ")"); }
    );
  }, function (error) { alert("The collector did not answer: " + error); });
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button.write-button").forEach(function (button) {
    button.addEventListener("click", function () {
      let body;
      if (button.dataset.prompt) {
        const reason = window.prompt(button.dataset.prompt, "");
        if (reason === null) { return; }
        body = { reason: reason };
      }
      mlspanSend(button.dataset.method, button.dataset.url, body);
    });
  });
  document.querySelectorAll("form.write").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const value = form.elements.value.value.trim();
      if (!value) { return; }
      const body = {};
      body[form.dataset.field] = form.dataset.list ? [value] : value;
      mlspanSend(form.dataset.method, form.dataset.url, body);
    });
  });
});

// A wide lineage graph opens scrolled to its root (the file, artifact or run asked about).
document.addEventListener("DOMContentLoaded", function () {
  const root = document.querySelector(".graph svg g.node.root");
  if (root) { root.scrollIntoView({ block: "nearest", inline: "center" }); }
});
