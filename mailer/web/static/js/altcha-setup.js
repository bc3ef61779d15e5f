// Loads the ALTCHA widget from our server and gives it a same-origin worker file,
// so pages keep a strict Content-Security-Policy (no blob: or data: workers).
import "/static/vendor/altcha.min.js";

const worker = () => new Worker("/static/vendor/altcha-sha-worker.js");
for (const algorithm of ["SHA-256", "SHA-384", "SHA-512"]) {
  globalThis.$altcha.algorithms.set(algorithm, worker);
}
