/**
 * The dashboard script's notifications part: the webhooks, their counts and a test send. Runs in the
 * page script's scope (it uses `el`, `api`, `table`, `put` and the state declared there).
 */
export const NOTIFY_SCRIPT = `  function lastAttempt(last) {
    if (!last) return el("span", { "class": "empty" }, ["none yet"]);
    var seconds = isNaN(Date.parse(last.at)) ? "" : ":" + pad(new Date(last.at).getSeconds());
    return el("span", null, [last.ok ? el("span", { "class": "ok" }, ["ok"]) : el("strong", { "class": "sev-critical" }, ["FAILED"]),
                             " " + last.result, el("span", { "class": "when" }, [last.type + ", " + localTime(last.at) + seconds])]);
  }
  function testCell(w) {
    var button = el("button", { type: "button", "class": "notify-test", "aria-label": "Send test to " + w.name }, ["Send test"]);
    button.disabled = testing;
    button.addEventListener("click", function () { sendTest(w.name); });
    var parts = [button];
    var t = webhookTests[w.name];
    if (t === "sending") parts.push(el("span", { "class": "test-result" }, ["sending…"]));
    else if (t) {
      parts.push(el("span", { "class": "test-result", "data-ok": String(t.ok) }, [
        t.ok ? el("strong", { "class": "ok" }, ["ok"]) : el("strong", { "class": "sev-critical" }, ["FAIL"]),
        " " + t.result + " (" + t.ms + " ms)"]));
    }
    return el("td", null, parts);
  }
  /** A webhook whose last attempt failed, or that gave up or dropped a notification, is marked like a risk. */
  function renderNotify() {
    var list = webhooks;
    if (!list) return;
    $("notify-actions").hidden = list.length === 0;
    $("notify-test-all").disabled = testing;
    if (list.length === 0) {
      put("notify", el("p", { "class": "empty", id: "notify-none" }, [
        "No webhook is configured, so nobody hears of a risk without watching this page: add ",
        el("code", null, ['"webhooks": [{"url": "https://…"}]']),
        " to keybridge.json and restart the daemon (docs/notify.md has the details)."]));
      return;
    }
    var headers = ["Webhook", "URL", "Events", "Delivered", "Failed", "Dropped", "Waiting", "Last attempt", "Test"];
    var head = el("tr", null, headers.map(function (h, i) {
      return el("th", i >= 3 && i <= 6 ? { scope: "col", "class": "num" } : { scope: "col" }, [h]);
    }));
    var body = list.map(function (w) {
      var critical = (w.last && !w.last.ok) || w.failed > 0;
      var warning = !critical && w.dropped > 0;
      var name = [el("strong", null, [w.name])];
      if (critical) name.push(" ", el("span", { "class": "sev sev-critical" }, ["failing"]));
      else if (warning) name.push(" ", el("span", { "class": "sev sev-warning" }, ["dropping"]));
      var count = function (n, cls) { return el("td", { "class": n > 0 && cls ? "num " + cls : "num" }, [String(n)]); };
      return el("tr", { "class": "webhook" + (critical ? " trouble" : warning ? " trouble warning" : ""), "data-webhook": w.name }, [
        el("th", { scope: "row" }, name), el("td", null, [w.url]), el("td", null, [w.events.join(", ")]),
        count(w.delivered), count(w.failed, "sev-critical"), count(w.dropped, "sev-warning"), count(w.pending),
        el("td", null, [lastAttempt(w.last)]), testCell(w)]);
    });
    put("notify", el("table", null, [
      el("caption", null, ["Where the daemon POSTs its events; counts since it started (failed: given up after its retries; dropped: pushed out of a full queue)"]),
      el("thead", null, [head]), el("tbody", null, body)]));
  }
  /** Cheap (the daemon answers from memory); while a delivery waits it looks again until none does. */
  function loadNotify() {
    return api("/v1/notify").then(function (n) {
      webhooks = n.webhooks;
      renderNotify();
      var waiting = webhooks.some(function (w) { return w.pending > 0; });
      if (waiting && !notifyTimer) {
        notifyTimer = setTimeout(function () { notifyTimer = null; if (token) loadNotify(); }, NOTIFY_FOLLOW_MS);
      }
    }).catch(function (e) { if (e.message !== "unauthorized") $("error").textContent = "Could not load the notifications: " + e.message; });
  }
  function sendTest(name) {
    if (testing || !webhooks) return;
    testing = true;
    var names = name === undefined ? webhooks.map(function (w) { return w.name; }) : [name];
    names.forEach(function (n) { webhookTests[n] = "sending"; });
    var summary = $("notify-summary");
    summary.className = "";
    summary.textContent = "Sending a test notification…";
    renderNotify();
    api("/v1/notify/test" + (name === undefined ? "" : "?name=" + encodeURIComponent(name)), { method: "POST" })
      .then(function (body) {
        body.results.forEach(function (r) { webhookTests[r.name] = r; });
        var failed = body.results.filter(function (r) { return !r.ok; }).length;
        var n = body.results.length;
        summary.className = failed ? "sev-critical" : "ok";
        if (failed === 0) summary.textContent = n === 1 ? body.results[0].name + " took the test." : "All " + n + " webhooks took the test.";
        else summary.textContent = (n === 1 ? body.results[0].name : failed + " of " + n + " webhooks") +
          " did not take the test: check the URL, the receiver and its logs.";
      }, function (e) {
        names.forEach(function (n) { delete webhookTests[n]; });
        summary.className = "sev-critical";
        summary.textContent = "Could not send the test: " + e.message;
      })
      .then(function () { testing = false; return loadNotify(); });
  }`;
