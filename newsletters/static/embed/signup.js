// The "Stay connected" signup box, for a publisher's article page:
//
//   <script src="https://newsletters.example.com/embed/signup.js"
//           data-newsletters="the-weekly,ai-digest" async></script>
//
// places the box in an iframe right after the script tag and keeps the iframe exactly as
// tall as the box, at any width: the box reports its height with postMessage, and a
// height is taken only from this script's own iframe on this script's own site.
// Optional: data-title="..." names the iframe for screen readers, and data-lang="es" sets
// the box's language (one the site offers; otherwise the reader's browser decides).
(function () {
  "use strict";

  var MESSAGE = "newsletters:embed-height";
  var PLACED = "data-newsletters-placed";
  var DEFAULT_TITLE = "Sign up for our newsletters";
  var FIRST_HEIGHT = 430;  // until the box reports its own height

  // This script's tag; with `async` and an old browser, every tag of ours not yet placed.
  function ourScripts() {
    var current = document.currentScript;
    if (current && current.src && !current.hasAttribute(PLACED)) return [current];
    return Array.prototype.filter.call(
      document.querySelectorAll('script[src*="/embed/signup.js"]'),
      function (script) { return !script.hasAttribute(PLACED); }
    );
  }

  function boxUrl(script, slugs) {
    // The box lives next to this script on the same site (and under the same path).
    var url = new URL("signup", script.src);
    var lang = (script.getAttribute("data-lang") || "").trim();
    return url.origin + url.pathname + "?newsletters=" + slugs.map(encodeURIComponent).join(",") +
      (lang ? "&lang=" + encodeURIComponent(lang) : "");
  }

  function place(script) {
    script.setAttribute(PLACED, "");
    var slugs = (script.getAttribute("data-newsletters") || "")
      .split(",")
      .map(function (slug) { return slug.trim(); })
      .filter(Boolean);
    if (!slugs.length) {
      if (window.console) console.warn("signup.js: data-newsletters names no newsletter");
      return;
    }
    var site = new URL(script.src).origin;
    var frame = document.createElement("iframe");
    frame.title = script.getAttribute("data-title") || DEFAULT_TITLE;
    frame.setAttribute("scrolling", "no");
    frame.setAttribute("loading", "eager");
    frame.setAttribute("width", "100%");
    frame.setAttribute("height", String(FIRST_HEIGHT));
    frame.style.cssText =
      "display:block;width:100%;max-width:100%;height:" + FIRST_HEIGHT + "px;" +
      "border:0;margin:0;padding:0;overflow:hidden;background:transparent";

    window.addEventListener("message", function (event) {
      // Only our own box, on our own site: not the page, not another frame, not another box.
      if (event.origin !== site || event.source !== frame.contentWindow) return;
      var data = event.data;
      if (!data || data.type !== MESSAGE) return;
      var height = Number(data.height);
      if (!isFinite(height) || height <= 0) return;
      height = Math.ceil(height);
      frame.setAttribute("height", String(height));
      frame.style.height = height + "px";
    });

    frame.src = boxUrl(script, slugs);
    script.parentNode.insertBefore(frame, script.nextSibling);
  }

  ourScripts().forEach(place);
})();
