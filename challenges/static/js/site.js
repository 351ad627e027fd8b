/* Progressive enhancements; every page works without them. */
(function () {
  "use strict";

  // Deadlines: the server prints the challenge's zone; add the reader's own time when it differs.
  function localiseTimes() {
    var viewerZone;
    try { viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    var format = new Intl.DateTimeFormat(undefined, {
      weekday: "short", year: "numeric", month: "short", day: "numeric",
      hour: "numeric", minute: "2-digit", timeZoneName: "short"
    });
    document.querySelectorAll("time.js-local-time").forEach(function (el) {
      if (!el.dateTime || el.dataset.zone === viewerZone || el.dataset.localised) { return; }
      var moment = new Date(el.dateTime);
      if (isNaN(moment.getTime())) { return; }
      el.dataset.localised = "1";
      if (el.dataset.short) { el.title = "Your time: " + format.format(moment); return; }  // table cells stay short
      var span = document.createElement("span");
      span.className = "site-local-time";
      span.textContent = " (your time: " + format.format(moment) + ")";
      el.after(span);
    });
  }

  // Forms and buttons that destroy something ask first. The pressed button's data-confirm wins
  // over the form's, so one form can hold a harmless button and a destructive one.
  function confirmDestructive() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var button = event.submitter;
      var text = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
      if (text && !window.confirm(text)) { event.preventDefault(); }
    });
  }

  // Put keyboard and screen-reader focus on the error summary after a failed submit.
  function focusErrors() {
    var summary = document.querySelector(".site-error-summary[tabindex='-1'], .usa-alert--error[tabindex='-1']");
    if (summary) { summary.focus(); }
  }

  // Staff side navigation (details.site-sidenav-toggle, open in the HTML): folded below desktop width so the
  // page's own heading and content come first on a phone, open on a desktop where it sits beside them.
  function foldSideNavigation() {
    var boxes = document.querySelectorAll("details.site-sidenav-toggle");
    if (!boxes.length || !window.matchMedia) { return; }
    var desktop = window.matchMedia("(min-width: 64em)");
    function apply() { boxes.forEach(function (box) { box.open = desktop.matches; }); }
    apply();
    if (desktop.addEventListener) { desktop.addEventListener("change", apply); }
  }

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  ready(function () { foldSideNavigation(); localiseTimes(); confirmDestructive(); focusErrors(); });
})();
