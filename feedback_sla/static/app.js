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
});
