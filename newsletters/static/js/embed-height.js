// Tells the page around the signup box how tall the box is, so the loader script
// (/embed/signup.js) can make its iframe exactly that tall: no blank space, no scrollbar.
// The height goes out on load, on resize and whenever the content changes (a signup,
// a message, a failure). A plain iframe with no loader simply ignores it.
(function () {
  "use strict";

  var MESSAGE = "newsletters:embed-height";

  if (window.parent === window) return;  // opened as a page of its own, not in a frame

  var sent = -1;

  // The height of the document's content, whatever the height of the frame around it.
  function contentHeight() {
    var root = document.documentElement;
    return Math.ceil(Math.max(root.getBoundingClientRect().height, document.body.scrollHeight));
  }

  function send(force) {
    var height = contentHeight();
    // Sent again if the frame is not that tall: the page may have changed it meanwhile.
    if (!force && height === sent && window.innerHeight === height) return;
    sent = height;
    // The page around the box may be on any site, and a height is no secret.
    window.parent.postMessage({ type: MESSAGE, height: height }, "*");
  }

  function changed() {
    send(false);
  }

  function watch() {
    send(true);
    if (window.ResizeObserver) {
      var observer = new ResizeObserver(changed);
      observer.observe(document.documentElement);
      observer.observe(document.body);
    } else if (window.MutationObserver) {
      new MutationObserver(changed).observe(document.documentElement, {
        attributes: true, childList: true, characterData: true, subtree: true
      });
    }
    window.addEventListener("resize", changed);
    window.addEventListener("load", function () { send(true); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", watch);
  } else {
    watch();
  }
})();
