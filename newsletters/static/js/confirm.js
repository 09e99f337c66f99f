// Confirms a subscription without a second click. The GET that loaded this page
// changed nothing (mail scanners fetch links); this POST is what confirms.
(function () {
  "use strict";

  function confirmWhenVisible(form) {
    var submitted = false;
    function submit() {
      if (submitted || document.visibilityState !== "visible") return;
      submitted = true;
      var status = form.querySelector("[data-status]");
      if (status) {
        status.textContent =
          form.getAttribute("data-say-confirming") || "Confirming your subscription…";
      }
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      form.submit();
    }
    submit();
    document.addEventListener("visibilitychange", submit);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-auto-submit]");
    if (form) confirmWhenVisible(form);
  });
})();
