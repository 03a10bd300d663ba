// The photo viewer: tapping a photo of an issue opens the full picture over the page, fitted to the screen,
// with its label (处理前 / 处理后) and n / N; a swipe (or the ‹ › buttons, or the arrow keys) moves between the
// issue's photos; ✕, Esc or the phone's back button closes it. Without this script each link still opens the
// full picture on its own. Every wording comes from the list's data-* attributes (the page's language).
(function () {
  "use strict";
  var SWIPE = 40; // px of horizontal travel that count as a swipe rather than a tap

  function build(list) {
    var box = document.createElement("div");
    box.className = "viewer";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-label", list.getAttribute("data-title") || "");
    box.hidden = true;
    box.innerHTML =
      '<img class="viewer-image" alt="">' +
      '<p class="viewer-caption" aria-live="polite"></p>' +
      '<button type="button" class="viewer-close"></button>' +
      '<button type="button" class="viewer-prev"></button>' +
      '<button type="button" class="viewer-next"></button>';
    [["close", "✕"], ["prev", "‹"], ["next", "›"]].forEach(function (pair) {
      var button = box.querySelector(".viewer-" + pair[0]);
      button.textContent = pair[1];
      button.setAttribute("aria-label", list.getAttribute("data-" + pair[0]) || pair[0]);
    });
    document.body.appendChild(box);
    return box;
  }

  function viewer(list) {
    var links = Array.prototype.slice.call(list.querySelectorAll("a[data-full]"));
    if (!links.length) return;
    var box = null, image, caption, index = 0, opener = null, pushed = false, startX = null;

    function show(n) {
      index = (n + links.length) % links.length;
      var link = links[index];
      image.src = link.getAttribute("data-full");
      image.alt = link.querySelector("img") ? link.querySelector("img").alt : "";
      var parts = [];
      if (link.getAttribute("data-label")) parts.push(link.getAttribute("data-label"));
      if (links.length > 1) parts.push((index + 1) + " / " + links.length);
      caption.textContent = parts.join(" · ");
      box.querySelector(".viewer-prev").hidden = box.querySelector(".viewer-next").hidden = links.length < 2;
    }

    function open(n) {
      if (!box) {
        box = build(list);
        image = box.querySelector(".viewer-image");
        caption = box.querySelector(".viewer-caption");
        box.querySelector(".viewer-close").addEventListener("click", close);
        box.querySelector(".viewer-prev").addEventListener("click", function () { show(index - 1); });
        box.querySelector(".viewer-next").addEventListener("click", function () { show(index + 1); });
        box.addEventListener("keydown", function (event) {
          if (event.key === "Escape") close();
          else if (event.key === "ArrowLeft") show(index - 1);
          else if (event.key === "ArrowRight") show(index + 1);
        });
        image.addEventListener("pointerdown", function (event) { startX = event.clientX; });
        image.addEventListener("pointerup", function (event) {
          if (startX === null) return;
          var travel = event.clientX - startX;
          startX = null;
          if (Math.abs(travel) >= SWIPE) show(index + (travel < 0 ? 1 : -1));
        });
        image.addEventListener("dragstart", function (event) { event.preventDefault(); });
        window.addEventListener("popstate", function () { if (!box.hidden) { pushed = false; close(); } });
      }
      opener = document.activeElement;
      show(n);
      box.hidden = false;
      document.documentElement.classList.add("viewer-open");
      // The phone's back button closes the viewer instead of leaving the page.
      if (window.history && history.pushState) { history.pushState({ viewer: true }, ""); pushed = true; }
      box.querySelector(".viewer-close").focus();
    }

    function close() {
      if (!box || box.hidden) return;
      box.hidden = true;
      image.removeAttribute("src");
      document.documentElement.classList.remove("viewer-open");
      if (pushed) { pushed = false; history.back(); }
      if (opener && opener.focus) opener.focus();
    }

    links.forEach(function (link, n) {
      link.addEventListener("click", function (event) {
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.button) return; // a new tab: as without us
        event.preventDefault();
        open(n);
      });
    });
  }

  document.querySelectorAll("ul.photos[data-viewer]").forEach(viewer);
})();
