// The triage console and the party's queue: keyboard moves (j/k rows, x select, Enter open), "select all on
// this page", and only the chosen bulk action's fields. Everything works without it: it only saves keystrokes.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-row]"));
  var current = -1;

  function typing(target) {
    var tag = target && target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) return true;
    return tag === "INPUT" && target.type !== "checkbox";
  }

  function focusRow(index) {
    if (!rows.length) return;
    index = Math.max(0, Math.min(rows.length - 1, index));
    if (current >= 0 && rows[current]) rows[current].classList.remove("is-current");
    current = index;
    var row = rows[current];
    row.classList.add("is-current");
    var target = row.querySelector("[data-item]") || row.querySelector("[data-open]");
    if (target) target.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("focusin", function (event) {
    var row = event.target.closest ? event.target.closest("[data-row]") : null;
    if (!row) return;
    var index = rows.indexOf(row);
    if (index === current) return;
    if (current >= 0 && rows[current]) rows[current].classList.remove("is-current");
    current = index;
    row.classList.add("is-current");
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    var key = event.key;
    if (key === "j") { event.preventDefault(); focusRow(current + 1); }
    else if (key === "k") { event.preventDefault(); focusRow(current < 0 ? 0 : current - 1); }
    else if ((key === "x" || key === "Enter") && current >= 0 && rows[current]) {
      var row = rows[current];
      if (key === "x") {
        var box = row.querySelector("[data-item]");
        if (box) { event.preventDefault(); box.checked = !box.checked; syncAll(); }
      } else if (!event.target.closest || event.target.closest("[data-row]") === row) {
        var link = row.querySelector("[data-open]");
        if (link && event.target !== link) { event.preventDefault(); window.location.href = link.href; }
      }
    }
  });

  // "Select all on this page": shown only where it works.
  var all = document.querySelector("[data-select-all]");
  function items() { return Array.prototype.slice.call(document.querySelectorAll("[data-item]")); }
  function syncAll() {
    if (!all) return;
    var boxes = items();
    var ticked = boxes.filter(function (b) { return b.checked; }).length;
    all.checked = boxes.length > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }
  if (all) {
    all.closest("[hidden]") && all.closest("[hidden]").removeAttribute("hidden");
    all.addEventListener("change", function () {
      items().forEach(function (b) { b.checked = all.checked; });
    });
    document.addEventListener("change", function (event) {
      if (event.target.hasAttribute && event.target.hasAttribute("data-item")) syncAll();
    });
    syncAll();
  }

  // The bulk bar: show only the chosen action's fields (all of them show without JavaScript).
  var action = document.querySelector("[data-action]");
  function showFields() {
    var chosen = action.value;
    document.querySelectorAll(".bulk-fields [data-for]").forEach(function (field) {
      var wanted = field.getAttribute("data-for").split(" ");
      field.hidden = !(wanted.indexOf("*") >= 0 || (chosen && wanted.indexOf(chosen) >= 0));
    });
  }
  if (action) {
    action.addEventListener("change", showFields);
    showFields();
  }

  var refusal = document.getElementById("refusal");
  if (refusal) refusal.focus();
})();
