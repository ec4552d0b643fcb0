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
      // The page wrote it in its language ("12 s left", "12 s übrig"): only the number changes.
      left.textContent = left.textContent.replace(/\d+/, String(seconds));
      window.setTimeout(tick, 1000);
    };
    tick();
  }

  // A confirmation without an Undo follows the scroll for a few seconds only.
  if (flashes && !flashes.querySelector("form[data-undo-until]")) window.setTimeout(settle, 8000);

  // Back on the page after an action, on the row acted on; if it has left the list, where it was.
  const key = `scroll:${location.pathname}${location.search}`;
  // Listened for on the document: the rows' menus, and their Log a call forms, are filled in later.
  document.addEventListener("submit", (event) => {
    if (event.target.matches("form[data-keep-place]")) sessionStorage.setItem(key, String(window.scrollY));
  });
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

// The keyboard on a list of candidates (the triage and the candidates pages): j and k move from
// row to row, x selects, u sends an update, r opens the rejection, o opens the candidate, / goes
// to the search and ? lists the keys. Never while typing in a field, never with Ctrl, Alt or Cmd.
// Each key does what a button of the page does (the same address, the same Undo); without
// JavaScript the buttons are all there is.
document.addEventListener("DOMContentLoaded", () => {
  const list = document.querySelector("[data-key-list]");
  if (!list) return;
  const rows = () => [...list.querySelectorAll(":scope > tbody > tr")];
  const rowOf = (el) => {
    const row = el instanceof Element ? el.closest("tr") : null;
    return row && row.parentElement && row.parentElement.parentElement === list ? row : null;
  };
  // The row's candidate link (the name's cell says which), and the pages its data-key-* name.
  const linkOf = (row) => row.querySelector("[data-key='open'], [data-key-name] a");
  const nameOf = (row) => linkOf(row).textContent.trim();
  const pageOf = (row, key) => {
    const holder = row.querySelector(`[data-key-${key}]`);
    return holder && holder.getAttribute(`data-key-${key}`);
  };
  const picked = () => [...document.querySelectorAll("[data-bulk-row]")].filter((box) => box.checked);

  // What the keys do is read out from a live region of their own (made here: the keys exist only
  // with JavaScript). Emptied first, so the same words twice are read twice.
  const live = document.createElement("div");
  live.className = "visually-hidden";
  live.setAttribute("aria-live", "polite");
  live.setAttribute("data-key-live", "");
  document.body.append(live);
  const say = (text) => {
    live.textContent = "";
    window.setTimeout(() => { live.textContent = text; }, 50);
  };

  // The row the keyboard is on: marked, its name's link focused (so Tab goes on into its buttons).
  // After an action the page comes back on the row acted on (its address's #row-…): the keys go
  // on from there.
  let current = null;
  const mark = (row) => {
    if (current) current.classList.remove("key-current");
    current = row;
    row.classList.add("key-current");
  };
  const arrived = location.hash && document.getElementById(location.hash.slice(1));
  if (arrived && rowOf(arrived) === arrived) mark(arrived);
  const here = () => rowOf(document.activeElement) || (current && current.isConnected ? current : null);
  const describe = (row) => {
    const all = rows();
    const parts = [nameOf(row), `${all.indexOf(row) + 1} of ${all.length}`];
    const state = row.querySelector(".badge-state");
    if (state) parts.push(state.textContent.trim());
    if (row.hasAttribute("data-updates-only")) parts.push("only updates so far");
    const box = row.querySelector("[data-bulk-row]");
    if (box && box.checked) parts.push("selected");
    return parts.join(", ");
  };
  const move = (step) => {
    const all = rows();
    if (!all.length) return;
    const at = here();
    const index = at ? all.indexOf(at) + step : 0;
    if (index < 0 || index >= all.length) {
      say(step > 0 ? "Last candidate on this page" : "First candidate on this page");
      return;
    }
    const row = all[index];
    mark(row);
    linkOf(row).focus({preventScroll: true});
    row.scrollIntoView({block: "nearest", behavior: "instant"});
    say(describe(row));
  };
  const onRow = (then) => {
    const row = here();
    if (row) then(row);
    else say("No candidate chosen: press j to go to the first");
  };
  const select = () => onRow((row) => {
    const box = row.querySelector("[data-bulk-row]");
    if (!box) return;
    box.click(); // its change event keeps the count of the selected
    say(`${nameOf(row)} ${box.checked ? "selected" : "no longer selected"}, ${picked().length} selected`);
  });
  // u and r answer the selected rows when there are some (the page that confirms them at once),
  // else the row the keyboard is on: its own button or link, or the page that writes that email.
  const answer = (key, kind) => {
    const form = document.querySelector("form[data-bulk-form]");
    const many = form && form.querySelector(`button[name='kind'][value='${kind}']`);
    if (picked().length && many) {
      say(`Answering ${picked().length} selected`);
      form.requestSubmit(many);
      return;
    }
    onRow((row) => {
      const control = row.querySelector(`[data-key='${key}']`);
      const href = pageOf(row, key);
      if (control) control.click();
      else if (href) window.location.assign(href);
      else if (row.querySelector("[data-update-queued]")) say(`An update to ${nameOf(row)} is already on its way`);
    });
  };
  const open = () => onRow((row) => linkOf(row).click());
  // The page's own search first, else the top bar's; on a phone the top bar's menu opens first.
  const search = () => {
    const fields = ["main [role='search'] input", "[role='search'] input", "input[type='search']"]
      .flatMap((where) => [...document.querySelectorAll(where)])
      .filter((field) => field.type !== "hidden");
    const field = fields.find((f) => f.getClientRects().length > 0) || fields.find((f) => f.closest(".collapse"));
    if (!field) {
      say("There is no search on this page");
      return;
    }
    const go = () => { field.focus(); field.select(); };
    const folded = field.closest(".collapse:not(.show)");
    if (folded && window.bootstrap) {
      folded.addEventListener("shown.bs.collapse", go, {once: true});
      window.bootstrap.Collapse.getOrCreateInstance(folded).show();
    } else go();
  };

  // The list of keys: a dialog; Escape or Close shuts it, and the focus goes back where it was.
  const KEYS = [
    ["j", "next candidate"], ["k", "previous candidate"], ["x", "select or unselect the candidate"],
    ["u", "send an update (to the selected, if any)"], ["r", "reject: open the rejection (of the selected, if any)"],
    ["o", "open the candidate's page"], ["/", "search"], ["?", "show these keys"],
  ];
  const help = document.createElement("dialog");
  help.className = "key-help";
  help.setAttribute("aria-labelledby", "key-help-title");
  const title = document.createElement("h2");
  title.id = "key-help-title";
  title.className = "h5";
  title.textContent = "Keyboard shortcuts";
  const keys = document.createElement("dl");
  for (const [key, what] of KEYS) {
    const term = document.createElement("dt");
    const kbd = document.createElement("kbd");
    kbd.textContent = key;
    term.append(kbd);
    const description = document.createElement("dd");
    description.textContent = what;
    keys.append(term, description);
  }
  const note = document.createElement("p");
  note.className = "small text-body-secondary";
  note.textContent = "Not while typing in a field. Each key does what the row's button does, with the same Undo.";
  const close = document.createElement("button");
  close.type = "button";
  close.className = "btn btn-sm btn-outline-secondary";
  close.textContent = "Close";
  close.addEventListener("click", () => help.close());
  help.append(title, keys, note, close);
  document.body.append(help);
  let before = null;
  const showHelp = () => {
    before = document.activeElement;
    help.showModal();
    close.focus();
  };
  help.addEventListener("close", () => { if (before && before.isConnected) before.focus(); });

  const ACTIONS = {
    j: () => move(1), k: () => move(-1), x: select, u: () => answer("update", "update"),
    r: () => answer("reject", "rejection"), o: open, "/": search, "?": showHelp,
  };
  const CLICKABLE = new Set(["checkbox", "radio", "button", "submit", "reset", "image"]);
  const typing = (el) => el instanceof Element && (
    el.isContentEditable || ["TEXTAREA", "SELECT"].includes(el.tagName)
    || (el.tagName === "INPUT" && !CLICKABLE.has(el.type)));
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (help.open || typing(event.target) || typing(document.activeElement)) return;
    const action = Object.hasOwn(ACTIONS, event.key) ? ACTIONS[event.key] : null;
    if (!action) return;
    event.preventDefault();
    action();
  });
});

// The triage rows' More menus: the page carries the menu once (a template written for candidate
// 0), and each row gets its own copy, with its candidate's id in the addresses and name in the
// words. Without JavaScript a row's More links to the page with that row's menu in place. Last of
// the page's scripts: the rows are marked and the keys ready before.
document.addEventListener("DOMContentLoaded", () => {
  const rowMenu = document.getElementById("row-menu");
  for (const list of rowMenu ? document.querySelectorAll("ul[data-row-menu]") : []) {
    const row = list.closest("tr");
    const id = list.dataset.rowMenu;
    const name = row.querySelector("[data-key='open']").textContent;
    const menu = rowMenu.content.firstElementChild.cloneNode(true);
    for (const el of menu.querySelectorAll("[action], [formaction], [href]")) {
      for (const attr of ["action", "formaction", "href"]) {
        const value = el.getAttribute(attr);
        if (!value) continue;
        el.setAttribute(attr, value.replace("/candidates/0/", `/candidates/${id}/`).replace(/%23row-0$/, `%23row-${id}`));
      }
    }
    for (const el of menu.querySelectorAll("[data-name]")) el.replaceWith(name);
    // A row that offers the decision first has its Reject… already, which opens the same page.
    if (row.querySelector("[data-decision]")) menu.querySelector("[data-write-rejection]")?.remove();
    list.replaceWith(menu);
  }
});
