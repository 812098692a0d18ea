// Sendwatch's only script (the CSP allows no inline code and no eval).
// 1. Remembers the browser's time zone in a cookie, so the server renders times in it.
// 2. Sends "sendwatch:refresh" on <body> every REFRESH_SECONDS while the tab is visible;
//    live regions listen with hx-trigger="sendwatch:refresh from:body".
// 3. Puts the focus back where it was when an htmx swap replaced the focused element.
(() => {
  "use strict";

  const REFRESH_SECONDS = 30;
  const REFRESH_EVENT = "sendwatch:refresh";
  const TIMEZONE_COOKIE = "sendwatch_tz";

  function rememberTimeZone() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // IANA names only use these characters; anything else would need escaping in a cookie.
    if (!zone || !/^[A-Za-z0-9_+\-/]+$/.test(zone)) return;
    const wanted = `${TIMEZONE_COOKIE}=${zone}`;
    if (document.cookie.split("; ").includes(wanted)) return;
    const secure = window.location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `${wanted}; path=/; max-age=31536000; SameSite=Lax${secure}`;
    // This page was rendered before the server knew the zone: say so, so the footer agrees
    // with the times above it now and with the next page.
    const note = document.querySelector("[data-time-zone-note]");
    if (note && note.dataset.timeZoneNote !== zone) {
      note.textContent = `Times on this page are in ${note.dataset.timeZoneNote}; from the next page on, in ${zone}.`;
    }
  }

  function refresh() {
    if (document.visibilityState === "visible") {
      document.body.dispatchEvent(new CustomEvent(REFRESH_EVENT));
    }
  }

  let timer = null;
  function startRefreshing() {
    window.clearInterval(timer);
    timer = window.setInterval(refresh, REFRESH_SECONDS * 1000);
  }

  let focusedId = null;
  document.addEventListener("htmx:beforeRequest", () => {
    const active = document.activeElement;
    focusedId = active && active !== document.body ? active.id || null : null;
  });
  document.addEventListener("htmx:afterSettle", () => {
    const lost = !document.activeElement || document.activeElement === document.body;
    const again = focusedId && document.getElementById(focusedId);
    if (lost && again) again.focus({ preventScroll: true });
  });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      refresh(); // catch up at once after the tab was hidden, then keep the rhythm
      startRefreshing();
    }
  });

  rememberTimeZone();
  startRefreshing();
  window.sendwatch = Object.freeze({ refreshSeconds: REFRESH_SECONDS, refreshEvent: REFRESH_EVENT });
})();
