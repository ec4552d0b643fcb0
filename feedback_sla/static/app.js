// Progressive enhancement only: every action works without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll("[data-bs-toggle='tooltip']")) {
    if (window.bootstrap) new window.bootstrap.Tooltip(el);
  }
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  // One open menu at a time; a click elsewhere or Escape closes it.
  const menus = document.querySelectorAll("details.menu");
  for (const menu of menus) {
    menu.addEventListener("toggle", () => {
      if (!menu.open) return;
      for (const other of menus) if (other !== menu) other.open = false;
    });
  }
  document.addEventListener("click", (event) => {
    for (const menu of menus) if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const menu of menus) {
      if (menu.open) { menu.open = false; menu.querySelector("summary").focus(); }
    }
  });

  // The Undo of a confirmation counts down, and goes once its time is up; then the confirmations
  // stop following the scroll.
  const flashes = document.querySelector("[data-flashes]");
  const settle = () => {
    if (flashes && !flashes.querySelector("form[data-undo-until]")) flashes.classList.add("flashes-settled");
  };
  for (const form of document.querySelectorAll("form[data-undo-until]")) {
    const until = Date.parse(form.dataset.undoUntil);
    const left = form.querySelector("[data-undo-left]");
    const tick = () => {
      const seconds = Math.max(0, Math.round((until - Date.now()) / 1000));
      if (seconds === 0) { form.remove(); settle(); return; }
      left.textContent = `${seconds} s left`;
      window.setTimeout(tick, 1000);
    };
    tick();
  }

  // A confirmation without an Undo follows the scroll for a few seconds only.
  if (flashes && !flashes.querySelector("form[data-undo-until]")) window.setTimeout(settle, 8000);

  // Back on the page after an action, on the row acted on; if it has left the list, where it was.
  const key = `scroll:${location.pathname}${location.search}`;
  for (const form of document.querySelectorAll("form[data-keep-place]")) {
    form.addEventListener("submit", () => sessionStorage.setItem(key, String(window.scrollY)));
  }
  const saved = sessionStorage.getItem(key);
  sessionStorage.removeItem(key);
  const target = location.hash && document.getElementById(location.hash.slice(1));
  // At once: the page's smooth scrolling would start from the top and glide there. The row comes
  // to the middle of the window, below the confirmation that stays at its top.
  if (target) target.scrollIntoView({block: "center", behavior: "instant"});
  else if (saved !== null) window.scrollTo({top: Number(saved), behavior: "instant"});
});

// Answering many at once: "All on this page" ticks every row of its form, and the count follows.
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-bulk-form]")) {
    const rows = [...document.querySelectorAll(`[data-bulk-row][form='${form.id}']`)];
    const all = document.querySelector(`[data-bulk-all][form='${form.id}']`);
    const count = form.querySelector("[data-bulk-count]");
    const show = () => {
      const n = rows.filter((row) => row.checked).length;
      count.textContent = n ? `${n} selected:` : "Select candidates to answer them at once:";
      if (all) {
        all.checked = n > 0 && n === rows.length;
        all.indeterminate = n > 0 && n < rows.length;
      }
    };
    for (const row of rows) row.addEventListener("change", show);
    if (all) {
      all.addEventListener("change", () => {
        for (const row of rows) row.checked = all.checked;
        show();
      });
    }
    show();
  }
});
