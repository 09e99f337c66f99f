// The issue editor: a preview that follows the form as the editor types, the preview's
// tabs, and delivery progress that updates while an issue sends. Without this script
// the page still works: every button posts the form, and the preview shows what is saved.
(function () {
  "use strict";

  var TYPING_PAUSE_MS = 600;
  var POLL_MS = 2000;
  var LIVE = ["sending", "paused"];
  // The fields that change the email; the others (a link to add, test addresses) do not.
  var DRAFT_FIELDS = ["csrf_token", "subject", "preheader", "intro", "story", "include", "language"];

  function setupPreview() {
    var panel = document.getElementById("preview-panel");
    var tabs = Array.prototype.slice.call(document.querySelectorAll("[data-preview-tabs] [role=tab]"));
    if (!panel || !tabs.length) return;
    var frame = panel.querySelector("iframe");
    var note = document.querySelector("[data-preview-note]");
    var form = document.getElementById("issue-form");
    var previewUrl = tabs[0].getAttribute("href");
    var language = document.querySelector("[data-preview-language]");
    var view = "wide";
    var timer = null;

    function busy(on) {
      if (note) note.classList.toggle("issue-preview__note--busy", on);
    }

    // A copy of the form's draft fields, posted into the frame: nothing is saved.
    function render() {
      clearTimeout(timer);
      if (!form) {
        var query = [];
        if (view === "text") query.push("format=text");
        if (language && language.value) query.push("language=" + encodeURIComponent(language.value));
        frame.src = previewUrl + (query.length ? "?" + query.join("&") : "");
        return;
      }
      var copy = document.createElement("form");
      copy.method = "post";
      copy.action = previewUrl;
      copy.target = frame.name;
      copy.hidden = true;
      new FormData(form).forEach(function (value, name) {
        if (DRAFT_FIELDS.indexOf(name) === -1) return;
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = value;
        copy.appendChild(input);
      });
      if (view === "text") {
        var format = document.createElement("input");
        format.type = "hidden";
        format.name = "format";
        format.value = "text";
        copy.appendChild(format);
      }
      document.body.appendChild(copy);
      busy(true);
      copy.submit();
      copy.remove();
    }

    frame.addEventListener("load", function () { busy(false); });
    if (language) language.addEventListener("change", render);

    function select(tab, focus) {
      tabs.forEach(function (other) {
        var on = other === tab;
        other.setAttribute("aria-selected", on ? "true" : "false");
        other.tabIndex = on ? 0 : -1;
      });
      if (focus) tab.focus();
      view = tab.getAttribute("data-view");
      panel.setAttribute("data-view", view);
      panel.setAttribute("aria-labelledby", tab.id);
      render();
    }

    tabs.forEach(function (tab, index) {
      tab.tabIndex = tab.getAttribute("aria-selected") === "true" ? 0 : -1;
      tab.addEventListener("click", function (event) {
        event.preventDefault();
        select(tab, false);
      });
      tab.addEventListener("keydown", function (event) {
        var next = null;
        if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
        if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
        if (event.key === "Home") next = tabs[0];
        if (event.key === "End") next = tabs[tabs.length - 1];
        if (event.key === " ") next = tab;
        if (next) {
          event.preventDefault();
          select(next, true);
        }
      });
    });

    if (!form) return;
    var state = form.querySelector("[data-save-state]");
    var count = form.querySelector("[data-included-count]");
    var changed = false;

    function countIncluded() {
      if (!count) return;
      var boxes = form.querySelectorAll("input[name=include]");
      var ticked = form.querySelectorAll("input[name=include]:checked");
      count.textContent = ticked.length + " of " + boxes.length + " included";
    }

    function edited(event) {
      var name = event.target && event.target.name;
      if (DRAFT_FIELDS.indexOf(name) === -1) return;
      if (name === "include") countIncluded();
      if (!changed && state) {
        changed = true;
        state.textContent = "Unsaved changes: the preview shows them; Save keeps them.";
        state.classList.add("save-bar__state--dirty");
      }
      clearTimeout(timer);
      timer = setTimeout(render, TYPING_PAUSE_MS);
    }

    form.addEventListener("input", edited);
    form.addEventListener("change", edited);
    // A refused save drew the page again with what was typed: show that, not what is saved.
    if (document.getElementById("issue-error")) render();

    // Enter in the link or title field adds the story, as its button says.
    var add = form.querySelector("[data-add-story]");
    ["url", "title"].forEach(function (name) {
      var input = form.querySelector("input[name=" + name + "]");
      if (!input || !add) return;
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();
          add.click();
        }
      });
    });
  }

  function setupProgress() {
    var box = document.getElementById("progress");
    if (!box) return;
    var url = box.getAttribute("data-progress-url");
    var status = box.getAttribute("data-status");
    var announce = box.querySelector("[data-announce]");
    var bar = box.querySelector("[data-field=bar]");
    var badge = document.querySelector("[data-badge]");
    var readers = document.querySelector("[data-readers]");
    var quarter = null;

    function field(name) { return box.querySelector("[data-field=" + name + "]"); }

    function number(n) { return Number(n).toLocaleString("en-GB"); }

    function show(data) {
      ["sent", "waiting", "failed", "not_sent"].forEach(function (name) {
        var cell = field(name);
        if (cell) cell.textContent = number(data[name]);
      });
      field("label").textContent = data.label;
      bar.max = data.total || 1;
      bar.value = data.total ? data.done : 0;
      bar.textContent = data.percent + "%";
      if (readers) readers.textContent = number(data.total) + (data.total === 1 ? " reader" : " readers");
      box.querySelectorAll("[data-when]").forEach(function (control) {
        control.hidden = control.getAttribute("data-when").split(" ").indexOf(data.status) === -1;
      });
      // Spoken: a change of state, and each quarter done; not every count.
      var now = Math.floor(data.percent / 25);
      if (data.status !== status) {
        announce.textContent = data.label + ".";
        if (badge) {
          badge.textContent = data.badge;
          badge.className = "badge badge--" + data.status;
        }
      } else if (quarter !== null && now !== quarter && data.status === "sending") {
        announce.textContent = data.percent + "% done.";
      }
      quarter = now;
      status = data.status;
      box.setAttribute("data-status", status);
    }

    function poll() {
      if (LIVE.indexOf(status) === -1) return;
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          // Signed out, or the issue is gone: a reload shows why; polling would not.
          if (response.redirected || response.status === 401 || response.status === 404) return null;
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (data) {
          if (!data) return;
          show(data);
          if (LIVE.indexOf(data.status) !== -1) setTimeout(poll, POLL_MS);
        })
        .catch(function () {
          setTimeout(poll, POLL_MS * 3);  // the network or a restart: try again, less often
        });
    }

    if (LIVE.indexOf(status) !== -1) setTimeout(poll, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupPreview();
    setupProgress();
  });
})();
