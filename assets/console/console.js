// Live updates for the console, without a framework: every element with data-live="URL" is re-fetched every few
// seconds and replaced when it changed. A form being typed in is never replaced (it is outside the live parts).
(function () {
  "use strict";
  var PERIOD_MS = 2500;
  function refresh(el) {
    fetch(el.getAttribute("data-live"), {
      credentials: "same-origin",
      headers: { "X-Console-Live": "1" },
      cache: "no-store",
    })
      .then(function (answer) {
        if (answer.status === 401) {
          window.location.assign("/console/sign-in");
          return null;
        }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        if (html !== null && html !== el.getAttribute("data-last")) {
          el.setAttribute("data-last", html);
          el.innerHTML = html;
          toNewest(el);
        }
      })
      .catch(function () {
        // Offline for a moment: the next round tries again.
      });
  }
  // A timeline reads like a chat: the newest line is in view.
  function toNewest(el) {
    Array.prototype.forEach.call(el.querySelectorAll(".timeline"), function (list) {
      list.scrollTop = list.scrollHeight;
    });
  }
  function start() {
    var parts = document.querySelectorAll("[data-live]");
    Array.prototype.forEach.call(parts, function (el) {
      el.setAttribute("data-last", el.innerHTML);
      toNewest(el);
      window.setInterval(function () {
        if (!document.hidden) refresh(el);
      }, PERIOD_MS);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
