// Registers ALTCHA's proof-of-work algorithms with the vendored worker files (the widget build
// is "external": it ships no inline workers, so the CSP needs no blob: or eval).
(function () {
  var vendor = new URL("../vendor/", document.currentScript.src);
  var workers = {
    "altcha-3.2.2-worker-pbkdf2.js": ["PBKDF2/SHA-256", "PBKDF2/SHA-384", "PBKDF2/SHA-512"],
    "altcha-3.2.2-worker-sha.js": ["SHA-256", "SHA-384", "SHA-512"]
  };
  Object.keys(workers).forEach(function (file) {
    var url = new URL(file, vendor).href;
    workers[file].forEach(function (algorithm) {
      globalThis.$altcha.algorithms.set(algorithm, function () { return new Worker(url); });
    });
  });
})();
