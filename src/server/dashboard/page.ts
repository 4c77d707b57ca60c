/**
 * The dashboard: one self-contained page (inline CSS and JS, no framework, nothing fetched from
 * elsewhere). The token comes from a `#token=` fragment (never sent to the server, removed from the
 * address bar at once) or from a form, and is kept in sessionStorage for the tab's life. Live updates
 * come from /v1/events; EventSource cannot send headers, so that one route takes `?token=`.
 * The inline script avoids template literals so these files can hold it in theirs. The style sheet
 * and the notification, maintenance and CodeMeter parts of the script live in files of their own and are put
 * together here, in one page and one script scope.
 */

import { CODEMETER_SCRIPT } from "./script-codemeter.js";
import { MAINTENANCE_SCRIPT } from "./script-maintenance.js";
import { NOTIFY_SCRIPT } from "./script-notify.js";
import { DASHBOARD_CSS } from "./styles.js";
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>keybridge dashboard</title>
<style>
${DASHBOARD_CSS}
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
    <section id="codemeter" aria-labelledby="h-codemeter" hidden>
      <h2 id="h-codemeter">CodeMeter server (watched read-only)</h2>
      <div id="codemeter-body"></div>
    </section>
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
  // Rounded to the unit shown, as the CLI does: a 7-day borrow made a moment ago is "in 7 d".
  function span(ms) {
    var a = Math.abs(ms), minutes = Math.round(a / 60000), hours;
    if (minutes < 60) return minutes + " m";
    if (minutes < 1440) return minutes % 60 ? Math.floor(minutes / 60) + " h " + minutes % 60 + " m" : minutes / 60 + " h";
    hours = Math.round(a / 3600000);
    if (hours < 48) return hours > 24 ? "1 d " + (hours - 24) + " h" : "1 d";
    return Math.round(a / 86400000) + " d";
  }
  // now: the clock the time is in; a borrow's times are in its key's clock (keyClock).
  function relative(iso, now) {
    if (!iso) return "";
    var delta = Date.parse(iso) - (now === undefined ? Date.now() : now);
    return delta >= 0 ? "in " + span(delta) : span(-delta) + " ago";
  }
  var keyOffsets = {};
  function keyClock(serial) {
    return Date.now() + (keyOffsets[serial] || 0);
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
        var codemeter = r.source === "codemeter";
        return el("article", { "class": "risk " + r.severity, "data-kind": r.kind, "data-source": r.source || "keybridge" }, [
          el("p", null, [el("span", { "class": "sev sev-" + r.severity }, [r.severity]), " ", el("strong", null, [r.kind]),
                         (codemeter ? " (CodeMeter)" : "") + " since " + localTime(r.since) +
                         (r.serial ? (codemeter ? " — stick " : " — key ") + r.serial : "")]),
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

    var received = Date.now();
    keyOffsets = {};
    s.keys.forEach(function (k) { if (k.keyTime) keyOffsets[k.serial] = Date.parse(k.keyTime) - received; });
    put("borrows", table("Borrows out (dummies are listed below)", ["ID", "Key", "Product", "Client", "State", "Issued", "Expires", "Time left"],
      s.borrows.map(function (b) {
        return [b.id, b.serial, productLabel(b), b.client, { text: b.state, cls: "state-" + b.state }, localTime(b.issuedAt),
                localTime(b.expiresAt), relative(b.expiresAt, keyClock(b.serial))];
      }), [0]));

    put("dummies", table("Each dummy blocks borrowing of its product on its key until it clears",
      ["Key", "Product", "Borrow", "Clears", "In"],
      s.dummies.map(function (d) { return [d.serial, d.product, d.borrowId, localTime(d.dummyUntil), relative(d.dummyUntil, keyClock(d.serial))]; }),
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

${NOTIFY_SCRIPT}

${MAINTENANCE_SCRIPT}

${CODEMETER_SCRIPT}

  function refresh() {
    api("/v1/audit?limit=20").then(renderAudit)
      .catch(function (e) { if (e.message !== "unauthorized") $("error").textContent = "Could not load the audit trail: " + e.message; });
    loadNotify();
    return api("/v1/status").then(function (s) {
      $("error").textContent = "";
      render(s);
      return Promise.all([loadMaintenance(s.maintenance), loadCodeMeter(s.codemeter)]);
    })
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
     "migration.done", "license.updated", "reconcile.repaired", "maintenance.planned", "maintenance.cancelled",
     "codemeter.borrow.seen", "codemeter.borrow.relisted", "codemeter.borrow.missing", "codemeter.borrow.gone"].forEach(function (type) {
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
