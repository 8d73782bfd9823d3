// An answer that opens at a section (/settings/security#api-tokens) shows its messages under that
// section's heading, where the page opens, not at the top of the page out of sight.
(function () {
  "use strict";

  var messages = document.getElementById("messages");
  var target = location.hash.length > 1 && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (!messages || !target || !messages.firstElementChild) { return; }
  var moved = document.createElement("div");
  moved.className = "section-messages";
  while (messages.firstElementChild) { moved.appendChild(messages.firstElementChild); }
  var heading = target.querySelector("h1, h2");
  if (heading && heading.parentNode === target) { heading.after(moved); } else { target.prepend(moved); }
})();
