// A form marked data-confirm="question" is sent only once the question is answered OK (no inline handlers under the CSP).
// A refusal stops the submit before it reaches the form, so an htmx form (hx-post) sends nothing either.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);
})();
