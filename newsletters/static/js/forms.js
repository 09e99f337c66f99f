// Saves the signup and preference forms with fetch, retrying by itself when the network
// or the server fails, and keeping what the reader ticked. Without this script the same
// forms post normally, and the server answers with the same pages and messages.
(function () {
  "use strict";

  var TRIES = 3;
  var BACKOFF_MS = 600;

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  // Exponential backoff with full jitter: 0.5x to 1.5x of 600 ms, 1200 ms, ...
  function backoff(attempt) {
    return BACKOFF_MS * Math.pow(2, attempt - 1) * (0.5 + Math.random());
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  // One try: a network error, a timeout or a 5xx is "retry"; anything else is an answer.
  function attempt(form, body, key) {
    var timeoutMs = 1000 * parseFloat(form.getAttribute("data-timeout-seconds") || "10");
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, timeoutMs);
    // getAttribute: a field named "action" would shadow form.action.
    return fetch(form.getAttribute("action"), {
      method: "POST",
      body: body,
      headers: { "Accept": "application/json", "Idempotency-Key": key },
      credentials: "same-origin",
      signal: controller.signal
    }).then(function (response) {
      clearTimeout(timer);
      if (response.status >= 500) return { retry: true };
      return response.json().then(
        function (json) { return { response: response, json: json }; },
        function () { return { retry: true }; }
      );
    }, function () {
      clearTimeout(timer);
      return { retry: true };
    });
  }

  function enhance(form) {
    var kind = form.getAttribute("data-enhance");
    var status = form.querySelector("[data-status]");
    var failure = form.querySelector("[data-failure]");
    var keyField = form.querySelector("input[name=idempotency_key]");
    var submitButtons = form.querySelectorAll("button[type=submit]");
    var minSeconds = parseFloat(form.getAttribute("data-min-seconds") || "0");
    var shownAt = Date.now();
    var key = keyField ? keyField.value : newKey();
    var keyFor = null;
    var busy = false;
    var lastSubmitter = null;

    // The page's words, in the reader's language (data-say-*); English when a page has none.
    function words(name, english) {
      return form.getAttribute("data-say-" + name) || english;
    }

    function setBusy(on) {
      busy = on;
      form.setAttribute("aria-busy", on ? "true" : "false");
      submitButtons.forEach(function (button) { button.disabled = on; });
      if (on) say(words("saving", "Saving…"));
    }

    function say(text) {
      if (status) status.textContent = text;
    }

    // The ticked newsletters for the message to support, each with the rhythm picked in
    // its "How often" list, if it has one: "The Paper (Daily)".
    function ticked() {
      return Array.prototype.map.call(
        form.querySelectorAll("input[name=newsletters]:checked"),
        function (box) {
          var name = box.getAttribute("data-name") || box.value;
          var rhythm = form.querySelector('select[name="frequency-' + box.value + '"]');
          if (!rhythm || rhythm.selectedIndex < 0) return name;
          return name + " (" + rhythm.options[rhythm.selectedIndex].text.trim() + ")";
        }
      );
    }

    function showFailure() {
      if (!failure) return;
      var link = failure.querySelector("[data-support-link]");
      var names = ticked();
      var href = failure.getAttribute("data-mailto-base");
      if (names.length) {
        var body = [failure.getAttribute("data-mailto-intro")].concat(
          names.map(function (name) { return "- " + name; })
        ).join("\n");
        href += "&body=" + encodeURIComponent(body);
      }
      if (link) link.setAttribute("href", href);
      failure.hidden = false;
      say("");
      failure.scrollIntoView({ block: "nearest" });
    }

    function showError(json) {
      var error = (json && json.error) || {};
      say(error.message || words("check", "Please check the form and try again."));
      if (error.field === "email") {
        var email = form.querySelector("input[name=email]");
        if (email) { email.setAttribute("aria-invalid", "true"); email.focus(); }
      }
    }

    function succeeded(json) {
      if (kind === "signup") {
        var done = form.parentNode.querySelector("[data-success]");
        form.hidden = true;
        if (done) { done.hidden = false; done.focus(); }
        return;
      }
      if (json.newsletters) {
        form.querySelectorAll("input[name=newsletters]").forEach(function (box) {
          box.checked = json.newsletters.indexOf(box.value) !== -1;
        });
      }
      say(json.message || words("saved", "Saved."));
      key = newKey();  // the next change is a new request
      keyFor = null;
    }

    function payload(submitter) {
      var data = new FormData(form);
      if (submitter && submitter.name && submitter.name !== "" && !submitter.hasAttribute("data-try-again")) {
        data.set(submitter.name, submitter.value);
      } else if (lastSubmitter && lastSubmitter.name) {
        data.set(lastSubmitter.name, lastSubmitter.value);  // "Try again" repeats the last action
      }
      return data;
    }

    function fingerprint(data) {
      var parts = [];
      data.forEach(function (value, name) {
        if (name !== "idempotency_key" && name !== "csrf_token") parts.push(name + "=" + value);
      });
      return parts.join("&");
    }

    async function submit(submitter) {
      if (busy) return;
      var data = payload(submitter);
      if (submitter && !submitter.hasAttribute("data-try-again")) lastSubmitter = submitter;
      var print = fingerprint(data);
      if (keyFor !== null && keyFor !== print) key = newKey();  // a different request
      keyFor = print;
      data.set("idempotency_key", key);
      if (failure) failure.hidden = true;
      setBusy(true);
      var wait = minSeconds * 1000 - (Date.now() - shownAt);
      if (wait > 0) await sleep(wait);
      try {
        for (var tries = 1; tries <= TRIES; tries++) {
          var result = await attempt(form, data, key);
          if (!result.retry) {
            if (result.response.ok) succeeded(result.json);
            else showError(result.json);
            return;
          }
          if (tries < TRIES) {
            say(words("retrying", "Saving… (trying again)"));
            await sleep(backoff(tries));
          }
        }
        showFailure();
      } finally {
        setBusy(false);
      }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit(event.submitter || null);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-enhance]").forEach(enhance);
  });
})();
