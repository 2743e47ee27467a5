/* The lab's buttons post without reloading, and the page follows the session through
   server-sent events. Without this script every form still works: it posts and comes back. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var csrf = document.querySelector('meta[name="lab-csrf"]').content;
  var flash = document.getElementById("flash");
  function show(msg) { flash.textContent = msg; flash.hidden = !msg; }

  /* data-busy counts the requests on their way: each answers once its action has landed. */
  var busy = 0;
  function setBusy(d) { busy += d; document.body.dataset.busy = String(busy); }
  setBusy(0);
  function post(url, body) {
    setBusy(1);
    return fetch(url, { method: "POST", body: body, headers: { "X-Lab-CSRF": csrf }, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { return r.text().then(function (t) { throw new Error(t.trim()); }); }
        return r;
      }).finally(function () { setBusy(-1); });
  }

  var loading = false, again = false;
  function refresh() {
    if (loading) { again = true; return; }
    loading = true;
    fetch("/state", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
      document.getElementById("phones").innerHTML = s.phones;
      document.getElementById("swimlane").innerHTML = s.swimlane;
      var from = document.getElementById("send-from"), chosen = from.value;
      from.replaceChildren.apply(from, s.phoneIds.map(function (id) { return new Option(id, id, false, id === chosen); }));
      document.body.dataset.version = String(s.version);
    }).catch(function (e) { show("could not read the lab's state: " + e.message); })
      .finally(function () { loading = false; if (again) { again = false; refresh(); } });
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.id === "save") {
      e.preventDefault();
      post("/scenario", new URLSearchParams(new FormData(form))).then(function (r) { return r.text(); }).then(function (text) {
        var area = document.getElementById("scenario-yaml"), link = document.getElementById("download");
        area.value = text; area.hidden = false;
        if (link.href) { URL.revokeObjectURL(link.href); }
        link.href = URL.createObjectURL(new Blob([text], { type: "application/yaml" }));
        link.hidden = false;
        show("");
      }).catch(function (err) { show(err.message); });
      return;
    }
    if (!form.classList.contains("js-post")) { return; }
    e.preventDefault();
    var data = new FormData(form, e.submitter);
    /* getAttribute: the buttons named "action" shadow form.action */
    post(form.getAttribute("action"), new URLSearchParams(data)).then(function () {
      show("");
      if (form.id === "send") { document.getElementById("send-text").value = ""; }
      if (form.id === "add-phone") { document.getElementById("new-user").value = ""; }
      refresh();
    }).catch(function (err) { show(err.message); refresh(); });
  });

  document.addEventListener("change", function (e) {
    var box = e.target;
    if (box.name === "on" && box.form && box.form.classList.contains("tick")) { box.form.requestSubmit(); }
  });

  var events = new EventSource("/events");
  events.onmessage = function (e) {
    if (e.data !== document.body.dataset.version) { refresh(); }
  };
})();
