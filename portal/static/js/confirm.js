// A form marked data-confirm="question" is sent only once the question is answered OK (no inline handlers under the CSP).
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);
})();
