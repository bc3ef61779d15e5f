// Runs inside /embed/join: tells the page that frames it how tall the content is, so the
// host script (embed-host.js) can size the iframe to fit. It posts only to an origin allowed
// to embed the form (MAILER_EMBED_ORIGINS), never to "*".
(() => {
  const script = document.currentScript;
  if (!script || window.parent === window) return;
  const allowed = (script.dataset.parentOrigins || "").split(" ").filter(Boolean);
  const candidates = [];
  const ancestors = window.location.ancestorOrigins;
  if (ancestors && ancestors.length) candidates.push(ancestors[0]);
  if (script.dataset.parent) candidates.push(script.dataset.parent);
  try {
    candidates.push(new URL(document.referrer).origin);
  } catch {
    // no referrer: nothing to add
  }
  const parent = candidates.find((origin) => allowed.includes(origin));
  if (!parent) return;
  let last = 0;
  const report = (force) => {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last && !force) return;
    last = height;
    window.parent.postMessage({ type: "mailer:embed-height", height }, parent);
  };
  new ResizeObserver(() => report(false)).observe(document.documentElement);
  window.addEventListener("load", () => report(true));
  // The host script may load after this page did: it says hello, and we answer.
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || event.origin !== parent) return;
    if (event.data && event.data.type === "mailer:embed-hello") report(true);
  });
  report(true);
})();
