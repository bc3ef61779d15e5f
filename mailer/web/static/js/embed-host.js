// For the page that embeds /embed/join (see docs/readers.md): sizes each of our iframes to
// the height its page reports, so the form and its error messages are never cut off.
// A message counts only when it comes from the origin this script was served from, and
// only for the iframe that sent it.
(() => {
  const script = document.currentScript;
  if (!script) return;
  const ours = new URL(script.src, document.baseURI).origin;
  const ourFrames = () =>
    Array.from(document.querySelectorAll("iframe")).filter((frame) => {
      try {
        return new URL(frame.src, document.baseURI).origin === ours;
      } catch {
        return false;
      }
    });
  window.addEventListener("message", (event) => {
    if (event.origin !== ours) return;
    const data = event.data;
    if (!data || data.type !== "mailer:embed-height") return;
    const height = Number(data.height);
    if (!Number.isFinite(height) || height < 50 || height > 5000) return;
    for (const frame of ourFrames()) {
      if (frame.contentWindow === event.source) frame.style.height = `${Math.ceil(height)}px`;
    }
  });
  const hello = () => {
    for (const frame of ourFrames()) {
      frame.contentWindow?.postMessage({ type: "mailer:embed-hello" }, ours);
    }
  };
  hello();
  window.addEventListener("load", hello);
})();
