// The desk without reloads where a browser runs scripts; every form works without it too.
// - data-confirm: ask in a dialog, then send the confirmation the server requires (without
//   script the server answers with a confirm page instead).
// - data-inplace: send the change in the background and swap in the new story list, keeping
//   the story the editor acted on where it was on the screen.
(function () {
  "use strict";

  function confirmFirst(form, event) {
    if (!form.dataset.confirm || form.querySelector("input[name=confirm]")) return true;
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return false;
    }
    var yes = document.createElement("input");
    yes.type = "hidden";
    yes.name = "confirm";
    yes.value = "yes";
    form.appendChild(yes);
    return true;
  }

  function replaceFrom(fresh, selector) {
    var now = document.querySelector(selector);
    var next = fresh.querySelector(selector);
    if (now && next) now.replaceWith(next);
    else if (now) now.remove();
    else if (next) document.querySelector("main").prepend(next);
  }

  function applyInPlace(form) {
    var near = form.querySelector("input[name=near]");
    var anchor = near ? document.getElementById("story-" + near.value) : null;
    var before = anchor ? anchor.getBoundingClientRect().top : 0;
    var action = form.querySelector("input[name=action]").value;
    // form.action is the input named "action" here, so read the attribute
    return fetch(form.getAttribute("action"), { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok || !response.redirected) throw new Error("not applied");
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        replaceFrom(fresh, "#story-list");
        replaceFrom(fresh, ".flash");
        replaceFrom(fresh, "#add");
        document.querySelectorAll("iframe.mail").forEach(function (frame) { frame.src = frame.src; });
        var moved = near ? document.getElementById("story-" + near.value) : null;
        if (moved) {
          window.scrollBy(0, moved.getBoundingClientRect().top - before);
          var same = moved.querySelector("input[name=action][value=" + action + "]");
          var button = same ? same.form.querySelector("button") : moved.querySelector("button");
          if (button) button.focus({ preventScroll: true });
        }
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!confirmFirst(form, event)) return;
    if (form.hasAttribute("data-inplace") && window.fetch && window.DOMParser) {
      event.preventDefault();
      applyInPlace(form).catch(function () { form.submit(); });
    }
  });
})();
