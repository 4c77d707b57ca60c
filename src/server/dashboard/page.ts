/**
 * The dashboard: one self-contained page (inline CSS and JS, no framework, nothing fetched from
 * elsewhere). The token comes from a `#token=` fragment (never sent to the server, removed from the
 * address bar at once) or from a form, and is kept in sessionStorage for the tab's life. Live updates
 * come from /v1/events; EventSource cannot send headers, so that one route takes `?token=`.
 * The inline script avoids template literals so this file can hold it in one.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>keybridge dashboard</title>
<style>
  :root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #ffffff; --panel: #f6f8fa;
          --ok: #1a7f37; --warn: #9a6700; --crit: #cf222e; --accent: #0969da; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: center; gap: 1rem; padding: .75rem 1.25rem; border-bottom: 1px solid var(--line); background: var(--panel); }
  header h1 { font-size: 1.15rem; margin: 0; }
  #live { margin-left: auto; font-size: .9rem; color: var(--muted); }
  #live.on::before { content: "\\25CF "; color: var(--ok); }
  #live.off::before { content: "\\25CF "; color: var(--crit); }
  main { padding: 1rem 1.25rem 2rem; max-width: 1200px; }
  section { margin-bottom: 1.75rem; }
  h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  caption { text-align: left; color: var(--muted); font-size: .85rem; padding-bottom: .25rem; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { background: var(--panel); font-weight: 600; font-size: .85rem; }
  td.num, th.num { text-align: right; }
  .empty { color: var(--muted); font-style: italic; }
  #events td:nth-child(-n+4), #audit td:nth-child(-n+4) { white-space: nowrap; }
  .sev { font-weight: 600; text-transform: uppercase; font-size: .8rem; }
  .sev-critical { color: var(--crit); } .sev-warning { color: var(--warn); } .sev-info { color: var(--accent); }
  .state-dummy { color: var(--crit); font-weight: 600; } .state-expired { color: var(--warn); }
  .risk { border-left: 4px solid var(--crit); background: #fff5f5; padding: .5rem .75rem; margin-bottom: .5rem; }
  .risk.warning { border-color: var(--warn); background: #fff8e6; } .risk.info { border-color: var(--accent); background: #f0f6ff; }
  .risk p { margin: .2rem 0; }
  .summary { display: flex; gap: 1rem; flex-wrap: wrap; margin-bottom: 1.25rem; }
  .summary div { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .5rem .9rem; min-width: 9rem; }
  .summary strong { display: block; font-size: 1.4rem; }
  .preflight { display: flex; flex-wrap: wrap; gap: .4rem; margin-bottom: .6rem; }
  button { font: inherit; padding: .3rem .7rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); cursor: pointer; }
  button:hover, button:focus-visible { border-color: var(--accent); outline: 2px solid transparent; box-shadow: 0 0 0 2px #0969da55; }
  #verdict { min-height: 2rem; }
  .verdict { padding: .5rem .75rem; border-radius: 6px; border: 1px solid var(--line); }
  .verdict.safe { border-color: var(--ok); background: #effaf1; } .verdict.unsafe { border-color: var(--crit); background: #fff5f5; }
  .verdict ul { margin: .3rem 0 .2rem 1.2rem; padding: 0; }
  form#login { max-width: 32rem; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 1rem; }
  form#login label { display: block; font-weight: 600; margin-bottom: .3rem; }
  form#login input { width: 100%; font: inherit; padding: .35rem .5rem; margin-bottom: .6rem; }
  form#login p { color: var(--muted); font-size: .9rem; }
  #error { color: var(--crit); }
  .ok { color: var(--ok); font-weight: 600; }
  #notify tbody th { background: none; font-weight: normal; font-size: inherit; }
  #notify tbody th, #notify td:nth-child(2) { white-space: nowrap; }
  #notify tr.trouble > * { background: #fff5f5; }
  #notify tr.trouble > :first-child { box-shadow: inset 4px 0 0 var(--crit); }
  #notify tr.trouble.warning > * { background: #fff8e6; }
  #notify tr.trouble.warning > :first-child { box-shadow: inset 4px 0 0 var(--warn); }
  .test-result { display: block; font-size: .85rem; margin-top: .2rem; }
  .when { display: block; color: var(--muted); font-size: .85rem; }
  .notify-actions { display: flex; flex-wrap: wrap; align-items: center; gap: .75rem; margin-top: .6rem; }
  .notify-actions p { margin: 0; }
  .notify-actions[hidden] { display: none; }
  code { background: var(--panel); padding: 0 .25rem; border-radius: 4px; }
  .maint { border-left: 4px solid var(--accent); background: #f0f6ff; padding: .6rem .9rem; margin-bottom: 1.5rem; }
  .maint[hidden] { display: none; }
  .maint.warning { border-color: var(--warn); background: #fff8e6; } .maint.clear { border-color: var(--ok); background: #effaf1; }
  .maint h2 { margin-bottom: .3rem; }
  .maint p { margin: .3rem 0; }
  .maint dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .9rem; margin: .2rem 0 .4rem; }
  .maint dt { font-weight: 600; } .maint dd { margin: 0; }
  .maint .risk { background: var(--bg); margin: .5rem 0; }
  .maint-actions { display: flex; flex-wrap: wrap; align-items: center; gap: .75rem; margin-top: .5rem; }
  form#plan { display: flex; flex-wrap: wrap; align-items: flex-end; gap: .6rem .9rem; }
  form#plan label { display: flex; flex-direction: column; font-size: .85rem; font-weight: 600; gap: .15rem; }
  form#plan input, form#plan select { font: inherit; font-weight: normal; padding: .25rem .4rem; }
  form#plan input#plan-note { min-width: 16rem; }
  form#plan [aria-invalid="true"] { outline: 2px solid var(--crit); }
  #plan-result { flex-basis: 100%; margin: 0; min-height: 1.45em; }
</style>
</head>
<body>
<header>
  <h1>keybridge</h1>
  <span id="mode"></span>
  <span id="live" class="off" role="status" aria-live="polite">not connected</span>
</header>
<main>
  <p id="error" role="alert"></p>
  <form id="login" hidden>
    <label for="token">API token</label>
    <input id="token" name="token" type="password" autocomplete="off" required>
    <button type="submit">Open dashboard</button>
    <p>The token is in <code>api-token</code> in the daemon's data directory. It is kept in this tab only.
       You can also open <code>/#token=…</code>: the part after <code>#</code> never leaves the browser.</p>
  </form>
  <div id="app" hidden>
    <div class="summary" aria-label="Summary">
      <div><span>Keys present</span><strong id="sum-keys">–</strong></div>
      <div><span>Borrows out</span><strong id="sum-borrows">–</strong></div>
      <div><span>Borrow Dummies</span><strong id="sum-dummies">–</strong></div>
      <div><span>Open risks</span><strong id="sum-risks">–</strong></div>
      <div><span>Last ledger export</span><strong id="sum-export">–</strong></div>
    </div>
    <section id="maintenance" class="maint" aria-labelledby="h-maint" hidden>
      <h2 id="h-maint">Maintenance planned</h2>
      <div id="maint-body"></div>
      <div class="maint-actions">
        <button type="button" id="maint-cancel">Cancel plan</button>
        <p id="maint-cancel-result" role="status" aria-live="polite"></p>
      </div>
    </section>
    <section aria-labelledby="h-risks"><h2 id="h-risks">Open risks</h2><div id="risks"></div></section>
    <section aria-labelledby="h-keys"><h2 id="h-keys">Keys</h2><div id="keys"></div></section>
    <section aria-labelledby="h-licenses"><h2 id="h-licenses">Licenses</h2><div id="licenses"></div></section>
    <section aria-labelledby="h-borrows"><h2 id="h-borrows">Borrows</h2><div id="borrows"></div></section>
    <section aria-labelledby="h-dummies"><h2 id="h-dummies">Borrow Dummies</h2><div id="dummies"></div></section>
    <section aria-labelledby="h-events"><h2 id="h-events">Recent events</h2><div id="events"></div></section>
    <section aria-labelledby="h-audit"><h2 id="h-audit">Audit trail</h2><div id="audit"></div></section>
    <section aria-labelledby="h-notify">
      <h2 id="h-notify">Notifications</h2>
      <div id="notify"></div>
      <div class="notify-actions" id="notify-actions" hidden>
        <button type="button" id="notify-test-all">Send test to all</button>
        <p id="notify-summary" role="status" aria-live="polite"></p>
      </div>
    </section>
    <section aria-labelledby="h-preflight">
      <h2 id="h-preflight">Is it safe to…?</h2>
      <div class="preflight" id="preflight-buttons" role="group" aria-label="Preflight checks"></div>
      <div id="verdict" aria-live="polite"></div>
    </section>
    <section aria-labelledby="h-plan">
      <h2 id="h-plan">Plan maintenance</h2>
      <p class="when">Until the window starts, every new borrow ends before it; none is made during it. Planning again replaces the plan.</p>
      <form id="plan" novalidate>
        <label for="plan-at">Starts<input id="plan-at" name="at" type="datetime-local" required></label>
        <label for="plan-until">Ends (optional)<input id="plan-until" name="until" type="datetime-local"></label>
        <label for="plan-action">For<select id="plan-action" name="action"><option value="">no particular action</option></select></label>
        <label for="plan-note">Note (optional)<input id="plan-note" name="note" type="text" maxlength="200" autocomplete="off"></label>
        <button type="submit" id="plan-submit">Plan maintenance</button>
        <p id="plan-result" role="status" aria-live="polite"></p>
      </form>
    </section>
  </div>
</main>
<script>
(function () {
  "use strict";
  var ACTIONS = ["upgrade-licenses", "install-major-version", "unplug-key", "move-key", "uninstall-driver",
                 "reinstall-os", "change-ip", "restart-service", "change-hostname"];
  var token = null;
  var source = null;
  var refreshTimer = null;
  var EVENTS_SHOWN = 50;
  var recent = [];
  var NOTIFY_FOLLOW_MS = 3000;
  var webhooks = null;
  var webhookTests = Object.create(null);
  var testing = false;
  var notifyTimer = null;
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function productLabel(b) {
    return b.productName ? b.product + " " + b.productName : b.product;
  }

  function localTime(iso) {
    if (!iso) return "–";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function span(ms) {
    var a = Math.abs(ms), d = Math.floor(a / 86400000), h = Math.floor(a % 86400000 / 3600000), m = Math.floor(a % 3600000 / 60000);
    if (d >= 2) return d + " d";
    if (d === 1) return h ? "1 d " + h + " h" : "1 d";
    if (h) return m ? h + " h " + m + " m" : h + " h";
    return m + " m";
  }
  function relative(iso) {
    if (!iso) return "";
    var delta = Date.parse(iso) - Date.now();
    return delta >= 0 ? "in " + span(delta) : span(-delta) + " ago";
  }

  function table(caption, headers, rows, numeric) {
    if (rows.length === 0) return el("p", { "class": "empty" }, ["None."]);
    var head = el("tr", null, headers.map(function (h, i) {
      return el("th", numeric && numeric.indexOf(i) >= 0 ? { scope: "col", "class": "num" } : { scope: "col" }, [h]);
    }));
    var body = rows.map(function (r) {
      return el("tr", null, r.map(function (cell, i) {
        var attrs = numeric && numeric.indexOf(i) >= 0 ? { "class": "num" } : {};
        if (cell && typeof cell === "object" && cell.cls) { attrs["class"] = cell.cls; cell = cell.text; }
        return el("td", attrs, [String(cell)]);
      }));
    });
    return el("table", null, [el("caption", null, [caption]), el("thead", null, [head]), el("tbody", null, body)]);
  }

  function put(id, node) { var box = $(id); box.replaceChildren(node); }

  /** init: { method, json }; a refusal throws an Error with the problem's detail (and its field, if it names one). */
  function api(path, init) {
    init = init || {};
    var request = { method: init.method || "GET", headers: { authorization: "Bearer " + token, accept: "application/json" } };
    if (init.json !== undefined) {
      request.headers["content-type"] = "application/json";
      request.body = JSON.stringify(init.json);
    }
    return fetch(path, request).then(function (r) {
      if (r.status === 401) { forget("The token was not accepted."); throw new Error("unauthorized"); }
      return r.json().then(function (body) {
        if (!r.ok) {
          var failure = new Error((body && body.detail) || ("HTTP " + r.status));
          if (body && typeof body.field === "string") failure.field = body.field;
          throw failure;
        }
        return body;
      });
    });
  }

  function render(s) {
    $("mode").textContent = s.mode === "virtual" ? "virtual mode" : "";
    $("sum-keys").textContent = s.keys.filter(function (k) { return k.present; }).length + " / " + s.keys.length;
    $("sum-borrows").textContent = String(s.borrows.length);
    $("sum-dummies").textContent = String(s.dummies.length);
    $("sum-risks").textContent = String(s.risks.length);
    $("sum-export").textContent = s.ledger.lastExportAt ? relative(s.ledger.lastExportAt) : "never";

    if (s.risks.length === 0) put("risks", el("p", { "class": "empty" }, ["No open risks."]));
    else {
      var list = el("div", { id: "risk-list" }, s.risks.map(function (r) {
        return el("article", { "class": "risk " + r.severity, "data-kind": r.kind }, [
          el("p", null, [el("span", { "class": "sev sev-" + r.severity }, [r.severity]), " ", el("strong", null, [r.kind]),
                         " since " + localTime(r.since) + (r.serial ? " — key " + r.serial : "")]),
          el("p", null, [r.message]),
          el("p", null, [el("strong", null, ["What to do: "]), r.advice || ""])
        ]);
      }));
      put("risks", list);
    }

    put("keys", table("Keys seen by this daemon", ["Serial", "Present", "Kind", "Firmware", "License set"],
      s.keys.map(function (k) {
        return [k.serial, k.present ? "yes" : { text: "NO", cls: "state-dummy" }, k.kind, k.firmwareVersion || "–",
                k.licenseSetVersion === undefined ? "–" : k.licenseSetVersion];
      })));

    var licenseRows = [];
    s.keys.forEach(function (k) {
      k.licenses.forEach(function (l) {
        licenseRows.push([k.serial, l.name ? l.product + " " + l.name : l.product, l.seats, l.borrowable, l.borrowed,
                          l.dummies ? { text: String(l.dummies), cls: "state-dummy" } : 0, l.borrowDays + " d"]);
      });
    });
    put("licenses", table("Seats per license", ["Key", "Product", "Seats", "Borrowable", "Borrowed", "Dummies", "Borrow period"],
      licenseRows, [2, 3, 4, 5]));

    put("borrows", table("Borrows out (dummies are listed below)", ["ID", "Key", "Product", "Client", "State", "Issued", "Expires", "Time left"],
      s.borrows.map(function (b) {
        return [b.id, b.serial, productLabel(b), b.client, { text: b.state, cls: "state-" + b.state }, localTime(b.issuedAt),
                localTime(b.expiresAt), relative(b.expiresAt)];
      }), [0]));

    put("dummies", table("Each dummy blocks borrowing of its product on its key until it clears",
      ["Key", "Product", "Borrow", "Clears", "In"],
      s.dummies.map(function (d) { return [d.serial, d.product, d.borrowId, localTime(d.dummyUntil), relative(d.dummyUntil)]; }),
      [2]));
  }

  function renderEvents() {
    put("events", table("Newest first; the daemon keeps the last 1 000 of this run", ["#", "Time", "Event", "Key", "What happened"],
      recent.map(function (e) {
        var alarming = e.type === "risk.raised" || e.type === "borrow.dummy" || e.type === "key.counterfeit";
        var seconds = isNaN(Date.parse(e.at)) ? "" : ":" + pad(new Date(e.at).getSeconds());
        return [e.seq, localTime(e.at) + seconds, alarming ? { text: e.type, cls: "sev-critical" } : e.type, e.serial || "–", e.message];
      }), [0]));
  }
  /** Adds events (live or from the history) to the list once each, newest first. */
  function noteEvents(events) {
    events.forEach(function (e) {
      if (typeof e.seq !== "number") return;
      if (recent.some(function (r) { return r.seq === e.seq; })) return;
      recent.push(e);
    });
    recent.sort(function (a, b) { return b.seq - a.seq; });
    if (recent.length > EVENTS_SHOWN) recent.length = EVENTS_SHOWN;
    renderEvents();
  }
  function loadEvents() {
    return api("/v1/events/history?limit=" + EVENTS_SHOWN).then(function (h) { noteEvents(h.events); })
      .catch(function (e) { if (e.message !== "unauthorized") $("error").textContent = "Could not load the events: " + e.message; });
  }

  function renderAudit(entries) {
    put("audit", table("What keybridge refused or did on its own, newest first; kept in the ledger across restarts",
      ["#", "Time", "Kind", "Key", "What happened"],
      entries.map(function (a) {
        var alarming = a.kind === "counterfeit-key" || a.kind === "license-update-forced" || a.kind === "rollback";
        return [a.id, localTime(a.at), alarming ? { text: a.kind, cls: "sev-critical" } : a.kind, a.serial || "–", a.message];
      }), [0]));
  }

  function lastAttempt(last) {
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
  }

  function actionName(action) { return action.replace(/-/g, " "); }
  /** The banner under the summary: the plan, the API's summary, and the borrows still ending after its start. */
  function renderMaintenance(m) {
    var box = $("maintenance");
    if (!m || !m.plan) {
      box.hidden = true;
      box.removeAttribute("data-phase");
      $("maint-body").replaceChildren();
      return;
    }
    var p = m.plan;
    var over = m.phase === "over";
    var inTheWay = !over && m.borrowsEndingAfter.length > 0;
    box.hidden = false;
    box.className = "maint" + (over ? "" : inTheWay ? " warning" : " clear");
    box.setAttribute("data-phase", m.phase);
    $("h-maint").textContent = m.phase === "during" ? "Maintenance under way" : over ? "Maintenance window over" : "Maintenance planned";
    var facts = [
      el("dt", null, ["Starts"]), el("dd", { id: "maint-at" }, [localTime(p.at) + " (" + relative(p.at) + ")"]),
      el("dt", null, ["Ends"]), el("dd", { id: "maint-until" }, [p.until ? localTime(p.until) + " (" + relative(p.until) + ")" : "when the plan is cancelled"]),
      el("dt", null, ["For"]), el("dd", p.action ? { id: "maint-action", "data-action": p.action } : { id: "maint-action" },
                                  [p.action ? actionName(p.action) : "no particular action"])
    ];
    if (p.note) facts.push(el("dt", null, ["Note"]), el("dd", { id: "maint-note" }, [p.note]));
    facts.push(el("dt", null, ["Planned"]), el("dd", null, [localTime(p.plannedAt)]));
    var parts = [el("dl", null, facts), el("p", { id: "maint-summary" }, [m.summary])];
    if (inTheWay) {
      var n = m.borrowsEndingAfter.length;
      parts.push(el("article", { "class": "risk warning", id: "maint-act" }, [
        el("p", null, [el("span", { "class": "sev sev-warning" }, ["act"]), " ",
                       el("strong", null, [n === 1 ? "1 borrow ends" : n + " borrows end"]), " after the window starts"]),
        el("p", null, [el("strong", null, ["What to do: "]),
                       "ask for " + (n === 1 ? "it" : "them") + " back before " + localTime(p.at) + "; a returned borrow no longer stands in the way."]),
        table("Borrows that end after the window starts", ["ID", "Key", "Client", "Product", "Expires", "Time left"],
          m.borrowsEndingAfter.map(function (b) {
            return [b.id, b.serial, b.client, productLabel(b), localTime(b.expiresAt), relative(b.expiresAt)];
          }), [0])
      ]));
    } else if (!over) {
      parts.push(el("p", { "class": "ok", id: "maint-clear" }, [
        m.phase === "during" ? "Clear: no borrow is out past the window's start." : "Clear: no borrow out ends after the window starts."]));
    }
    $("maint-body").replaceChildren.apply($("maint-body"), parts);
  }
  /** Asked for only when the status names a plan: with none there is nothing to show, and no request. */
  function loadMaintenance(plan) {
    if (!plan) { renderMaintenance(null); return Promise.resolve(); }
    return api("/v1/maintenance").then(renderMaintenance)
      .catch(function (e) { if (e.message !== "unauthorized") $("error").textContent = "Could not load the maintenance plan: " + e.message; });
  }
  function localToIso(value) {
    if (!value) return null;
    var d = new Date(value);
    return isNaN(d.getTime()) ? null : d.toISOString();
  }
  function planMaintenance() {
    var out = $("plan-result");
    var fields = { at: $("plan-at"), until: $("plan-until"), action: $("plan-action"), note: $("plan-note") };
    Object.keys(fields).forEach(function (k) { fields[k].removeAttribute("aria-invalid"); });
    var refuse = function (field, message) {
      out.className = "sev-critical";
      out.textContent = message;
      if (field && fields[field]) { fields[field].setAttribute("aria-invalid", "true"); fields[field].focus(); }
    };
    var body = { at: localToIso(fields.at.value) };
    if (!body.at) { refuse("at", "Choose when the window starts."); return; }
    if (fields.until.value) {
      body.until = localToIso(fields.until.value);
      if (!body.until) { refuse("until", "The end is not a valid time."); return; }
    }
    if (fields.action.value) body.action = fields.action.value;
    var note = fields.note.value.trim();
    if (note) body.note = note;
    $("plan-submit").disabled = true;
    out.className = "";
    out.textContent = "Planning…";
    api("/v1/maintenance", { method: "POST", json: body }).then(function (m) {
      out.className = "ok";
      out.textContent = "Planned for " + localTime(m.plan.at) + ".";
      renderMaintenance(m);
    }, function (e) {
      if (e.message === "unauthorized") return;
      refuse(e.field, "Not planned: " + e.message);
    }).then(function () { $("plan-submit").disabled = false; });
  }
  function cancelMaintenance() {
    var button = $("maint-cancel");
    var out = $("maint-cancel-result");
    button.disabled = true;
    out.className = "";
    out.textContent = "Cancelling…";
    api("/v1/maintenance", { method: "DELETE" }).then(function (m) {
      out.textContent = "";
      $("plan-result").className = "";
      $("plan-result").textContent = "The plan was cancelled; borrowing is normal again.";
      renderMaintenance(m);
    }, function (e) {
      out.className = "sev-critical";
      out.textContent = e.message === "unauthorized" ? "" : "Could not cancel the plan: " + e.message;
    }).then(function () { button.disabled = false; });
  }

  function refresh() {
    api("/v1/audit?limit=20").then(renderAudit)
      .catch(function (e) { if (e.message !== "unauthorized") $("error").textContent = "Could not load the audit trail: " + e.message; });
    loadNotify();
    return api("/v1/status").then(function (s) { $("error").textContent = ""; render(s); return loadMaintenance(s.maintenance); })
      .catch(function (e) { if (e.message !== "unauthorized") $("error").textContent = "Could not load the status: " + e.message; });
  }
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () { refreshTimer = null; refresh(); }, 100);
  }

  function connect() {
    if (source) source.close();
    source = new EventSource("/v1/events?token=" + encodeURIComponent(token));
    source.onopen = function () { $("live").className = "on"; $("live").textContent = "live"; refreshSoon(); };
    source.onerror = function () { $("live").className = "off"; $("live").textContent = "reconnecting…"; };
    ["borrow.created", "borrow.returned", "borrow.settled", "borrow.dummy", "key.attached", "key.detached", "key.moved",
     "key.counterfeit", "host.changed", "clock.jump", "risk.raised", "risk.cleared", "registry.repaired", "ledger.rebuilt",
     "migration.done", "license.updated", "reconcile.repaired", "maintenance.planned", "maintenance.cancelled"].forEach(function (type) {
      source.addEventListener(type, function (message) {
        refreshSoon();
        noteEvents([JSON.parse(message.data)]);
      });
    });
  }

  function preflight(action) {
    $("verdict").replaceChildren(el("p", null, ["Checking " + action + "…"]));
    api("/v1/preflight/" + action).then(function (v) {
      var parts = [el("p", null, [el("strong", null, [v.safe ? "Safe: " : "Not safe: "]), action.replace(/-/g, " ")])];
      if (v.reasons.length) parts.push(el("ul", null, v.reasons.map(function (r) { return el("li", null, [r]); })));
      if (v.advice.length) {
        parts.push(el("p", null, [el("strong", null, ["What to do"])]));
        parts.push(el("ul", null, v.advice.map(function (a) { return el("li", null, [a]); })));
      }
      $("verdict").replaceChildren(el("div", { "class": "verdict " + (v.safe ? "safe" : "unsafe"), "data-action": action }, parts));
    }).catch(function (e) { $("verdict").replaceChildren(el("p", { "class": "sev-critical" }, [e.message])); });
  }

  function start() {
    $("login").hidden = true;
    $("app").hidden = false;
    refresh();
    loadEvents();
    connect();
    setInterval(refresh, 60000);
  }

  function forget(message) {
    sessionStorage.removeItem("keybridge-token");
    token = null;
    if (source) { source.close(); source = null; }
    $("app").hidden = true;
    $("login").hidden = false;
    $("error").textContent = message || "";
  }

  ACTIONS.forEach(function (a) {
    var b = el("button", { type: "button", "data-action": a }, [a.replace(/-/g, " ")]);
    b.addEventListener("click", function () { preflight(a); });
    $("preflight-buttons").appendChild(b);
  });

  $("notify-test-all").addEventListener("click", function () { sendTest(); });

  ACTIONS.forEach(function (a) { $("plan-action").appendChild(el("option", { value: a }, [actionName(a)])); });
  $("plan").addEventListener("submit", function (e) { e.preventDefault(); planMaintenance(); });
  $("maint-cancel").addEventListener("click", cancelMaintenance);

  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    token = $("token").value.trim();
    $("token").value = "";
    sessionStorage.setItem("keybridge-token", token);
    start();
  });

  var fragment = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (fragment) {
    token = decodeURIComponent(fragment[1]);
    sessionStorage.setItem("keybridge-token", token);
    history.replaceState(null, "", location.pathname + location.search);
  } else {
    token = sessionStorage.getItem("keybridge-token");
  }
  if (token) start(); else forget();
})();
</script>
</body>
</html>
`;
