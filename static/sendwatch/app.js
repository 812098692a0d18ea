// Sendwatch's only script (the CSP allows no inline code and no eval).
// 1. Remembers the browser's time zone in a cookie, so the server renders times in it.
// 2. Sends "sendwatch:refresh" on <body> every REFRESH_SECONDS while the tab is visible;
//    live regions listen with hx-trigger="sendwatch:refresh from:body".
// 3. Puts the focus back where it was when an htmx swap replaced the focused element.
// 4. Brings a drill-down into view with the focus; clears custom dates when a preset window is chosen.
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

  // A fragment swapped into a region marked data-focus-on-swap (the Errors drill-down) is
  // scrolled into view and its heading takes the focus, so the click visibly did something
  // and a screen reader reads what arrived.
  document.addEventListener("htmx:afterSettle", (event) => {
    const region = event.detail && event.detail.target;
    if (!region || !region.hasAttribute || !region.hasAttribute("data-focus-on-swap")) return;
    const heading = region.querySelector("h2, h3") || region;
    if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    region.scrollIntoView({ block: "start" });
    heading.focus({ preventScroll: true });
  });

  // Custom From/To fields (data-custom-for names their Window menu) wait for Apply instead of
  // reloading on change, which would refuse a window with only one end; filling one shows the
  // menu as "custom" at once.
  document.addEventListener("change", (event) => {
    const field = event.target;
    if (!(field instanceof HTMLInputElement) || !field.dataset.customFor) return;
    event.stopPropagation();
    const menu = document.getElementById(field.dataset.customFor);
    if (menu && field.value) menu.value = "custom";
  }, true);

  // Choosing a preset window (24h, 7d…) empties the custom From/To fields named by
  // data-clears, before htmx reads the form: otherwise the dates would keep the window custom.
  document.addEventListener("change", (event) => {
    const menu = event.target;
    if (!(menu instanceof HTMLSelectElement) || !menu.dataset.clears || menu.value === "custom") return;
    for (const id of menu.dataset.clears.split(" ")) {
      const field = document.getElementById(id);
      if (field) field.value = "";
    }
  }, true);

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      refresh(); // catch up at once after the tab was hidden, then keep the rhythm
      startRefreshing();
    }
  });

  // Phone layout: the top menu folds behind its "Menu" button on narrow screens (app.css shows the
  // button only once the header has .nav-collapsible, so without this script the menu stays open).
  // Escape closes it and gives the focus back to the button.
  function collapsibleMenu() {
    const bar = document.querySelector(".topbar");
    const toggle = bar && bar.querySelector(".nav-toggle[aria-controls]");
    if (!toggle) return;
    const setOpen = (open) => {
      bar.classList.toggle("nav-open", open);
      toggle.setAttribute("aria-expanded", String(open));
    };
    toggle.addEventListener("click", () => setOpen(!bar.classList.contains("nav-open")));
    bar.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || !bar.classList.contains("nav-open")) return;
      setOpen(false);
      toggle.focus();
    });
    setOpen(false);
    bar.classList.add("nav-collapsible");
  }

  rememberTimeZone();
  collapsibleMenu();
  startRefreshing();
  window.sendwatch = Object.freeze({ refreshSeconds: REFRESH_SECONDS, refreshEvent: REFRESH_EVENT });
})();
