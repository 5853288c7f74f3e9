"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const next = params.get("next");
  if (next && next.startsWith("/") && !next.startsWith("//")) {
    document.getElementById("next").value = next;
  }
  if (params.get("error")) document.getElementById("login-error").hidden = false;
  const theme = localStorage.getItem("routeb.theme");
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
})();
