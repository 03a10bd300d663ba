// The issue page: picking a ready reply fills the text box in place (the link reloads the page without JS).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var pick = event.target.closest ? event.target.closest(".template-pick") : null;
    if (!pick) return;
    var form = document.getElementById("add-note");
    var text = form && form.querySelector("textarea");
    if (!text) return;
    event.preventDefault();
    text.value = pick.getAttribute("data-body");
    var update = form.querySelector('input[type="radio"][value="public_update"]');
    if (update) update.checked = true;
    text.focus();
  });
})();
