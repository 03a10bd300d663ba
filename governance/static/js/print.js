// Print buttons: CSP forbids inline handlers, so they are wired here.
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
