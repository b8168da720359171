// hubmirror's web UI: the one script the pages load (the Content-Security-Policy allows no other).
// Pages work without it; it makes the repo list search as you type and apply filters at once.
"use strict";

(function () {
  const form = document.getElementById("repo-filter");
  const results = document.getElementById("results");
  if (!form || !results) return;

  let timer = 0;
  let latest = 0;

  // Fetches the list page for the form's values and swaps in its results, keeping the address
  // in step so the back button and a reload show the same list.
  async function refresh() {
    const params = new URLSearchParams(new FormData(form));
    for (const [key, value] of [...params]) if (value === "") params.delete(key);
    const url = form.getAttribute("action") + (params.toString() ? "?" + params : "");
    const request = ++latest;
    const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok || request !== latest) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("results");
    if (!fresh || request !== latest) return;
    results.replaceChildren(...fresh.childNodes);
    history.replaceState(null, "", url);
  }

  const search = document.getElementById("search");
  if (search) {
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 200);
    });
  }
  for (const select of form.querySelectorAll("select")) select.addEventListener("change", refresh);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
})();
