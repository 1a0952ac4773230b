// Stage and language forms: live template preview on a real open invoice; delete buttons ask first (no CDN, no framework).
(function () {
  "use strict";
  // Destructive buttons (delete a policy) ask first; without JavaScript the form still posts.
  Array.prototype.forEach.call(document.querySelectorAll("button[data-confirm]"), function (b) {
    b.addEventListener("click", function (e) { if (!window.confirm(b.dataset.confirm)) { e.preventDefault(); } });
  });
  var button = document.getElementById("preview-button");
  if (!button) { return; }
  function value(id) { var el = document.getElementById(id); return el ? el.value : ""; }
  function show(result) {
    var box = document.getElementById("preview");
    var problems = document.getElementById("preview-problems");
    box.hidden = false;
    problems.textContent = "";
    document.getElementById("preview-subject").textContent = result.ok ? result.subject : "";
    document.getElementById("preview-body").textContent = result.ok ? result.body : "";
    document.getElementById("preview-invoice-label").textContent = result.ok ? "Rendered on " + result.invoice : "";
    (result.problems || []).forEach(function (p) {
      var li = document.createElement("li");
      li.textContent = p.field + (p.line ? " line " + p.line : "") + ": " + p.message;
      problems.appendChild(li);
    });
  }
  button.addEventListener("click", function () {
    fetch(button.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": button.dataset.csrf},
      body: JSON.stringify({subject: value("subject_template"), body: value("body_template"), stage: value("key"),
                            tone: value("tone"), invoice_id: value("preview-invoice") || null})
    }).then(function (r) { return r.json(); }).then(show).catch(function (e) {
      show({ok: false, problems: [{field: "preview", message: String(e)}]});
    });
  });
})();
