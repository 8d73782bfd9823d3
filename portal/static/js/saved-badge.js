// A form's "Saved" badge (data-saved) stands for what was sent: the next change to the form takes it away.
(function () {
  "use strict";

  function clear(event) {
    var form = event.target.form || (event.target.closest && event.target.closest("form"));
    var badge = form && form.querySelector("[data-saved]");
    if (badge) { badge.remove(); }
  }

  document.addEventListener("input", clear);
  document.addEventListener("change", clear);
})();
