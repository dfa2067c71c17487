// classhub live pages: one EventSource per page; the hub sends the live part as rendered HTML, so
// this file only swaps it in, says when the connection is lost or back, and ticks the countdown.
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  if (!root) return;
  var target = document.getElementById("live");
  var banner = document.getElementById("connection");
  var lost = false;
  var hideTimer = null;

  function show(text, kind) {
    if (!banner) return;
    banner.textContent = text;
    banner.className = "banner " + kind;
    banner.hidden = false;
  }

  function connect() {
    var es = new EventSource(root.getAttribute("data-live"));
    es.addEventListener("fragment", function (e) {
      target.innerHTML = e.data;
      tick();
    });
    es.onopen = function () {
      if (lost) {
        show(banner.getAttribute("data-back"), "ok");
        clearTimeout(hideTimer);
        hideTimer = setTimeout(function () { banner.hidden = true; }, 3000);
      }
      lost = false;
    };
    es.onerror = function () {
      lost = true;
      show(banner.getAttribute("data-lost"), "lost");
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. the hub answered with an error while restarting): try again.
        setTimeout(connect, 2000);
      }
    };
  }

  function tick() {
    var clocks = document.querySelectorAll("[data-remaining-ms]");
    for (var i = 0; i < clocks.length; i++) {
      var el = clocks[i];
      if (!el.hasAttribute("data-end")) {
        el.setAttribute("data-end", String(Date.now() + Number(el.getAttribute("data-remaining-ms"))));
      }
      var left = Math.max(0, Math.ceil((Number(el.getAttribute("data-end")) - Date.now()) / 1000));
      var n = el.querySelector(".n");
      if (n) n.textContent = String(left);
    }
  }

  connect();
  setInterval(tick, 250);
})();
