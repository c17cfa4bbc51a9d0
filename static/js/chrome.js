// The page chrome, loaded in <head> on every page: marks that scripts run (the stylesheet
// folds the menu away only then: without scripts it stays open), keeps the browser's time
// zone in a cookie for the server's dates (custseg_site.dates), and opens and closes
// the header's menu on narrow screens.
(function () {
  "use strict";
  document.documentElement.classList.replace("no-js", "js");

  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // IANA names ("America/New_York") hold only characters a cookie value allows, as they are
    if (zone && /^[A-Za-z0-9_+\/-]+$/.test(zone) && document.cookie.indexOf("tz=" + zone) === -1) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (error) { /* no Intl time zone: dates stay in the server's zone */ }

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector(".menu-toggle");
    if (!toggle) { return; }
    function setOpen(open) { toggle.setAttribute("aria-expanded", open ? "true" : "false"); }
    toggle.addEventListener("click", function () {
      setOpen(toggle.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        toggle.focus();
      }
    });
  });
})();
