// Exception queue: the invoice fields of the "apply to invoices" forms suggest open invoices from the server
// as the admin types a number or a customer name (a tenant's open invoices are too many to send with the
// page). Without JavaScript the field still takes any invoice number; the server checks it on posting.
(function () {
  "use strict";
  var list = document.getElementById("open-invoices");
  if (!list) { return; }
  var timer = null;
  var latest = 0;
  function fill(rows, asked) {
    if (asked !== latest) { return; }  // an older answer arriving after a newer one
    list.textContent = "";
    rows.forEach(function (row) {
      var option = document.createElement("option");
      option.value = row.number;
      option.textContent = row.customer + " · " + row.amount_due + " " + row.currency;
      list.appendChild(option);
    });
  }
  function search(input) {
    var asked = ++latest;
    var url = list.dataset.url + "?q=" + encodeURIComponent(input.value.trim()) +
              "&currency=" + encodeURIComponent(input.dataset.currency || "");
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) { fill(rows, asked); })
      .catch(function () { /* keep the last suggestions; typing a number still works */ });
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[list=open-invoices]"), function (input) {
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { search(input); }, 200);
    });
    input.addEventListener("focus", function () { search(input); });  // this line's currency
  });
})();
