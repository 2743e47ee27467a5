// The console reads without JavaScript; this only adds small comforts.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Forms marked data-confirm ask before they change anything.
  for (const f of document.querySelectorAll("form[data-confirm]")) {
    f.addEventListener("submit", (e) => {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  }
});
