// Checkbox tree by module: a module box ticks or clears its functions and shows whether all are chosen.
(function () {
  "use strict";

  function boxes(module) {
    return Array.from(module.querySelectorAll('input[name="functions"]:not(:disabled)'));
  }

  function sync(module) {
    var toggle = module.querySelector("[data-module-toggle]");
    var children = boxes(module);
    var ticked = children.filter(function (box) { return box.checked; }).length;
    toggle.checked = children.length > 0 && ticked === children.length;
    toggle.indeterminate = ticked > 0 && ticked < children.length;
  }

  document.addEventListener("change", function (event) {
    var module = event.target.closest("[data-module]");
    if (!module) { return; }
    if (event.target.matches("[data-module-toggle]")) {
      boxes(module).forEach(function (box) { box.checked = event.target.checked; });
    }
    sync(module);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-module]").forEach(sync);
  });
})();
