/**
 * The dashboard script's maintenance part: the banner for a planned window and the form that plans
 * or cancels one. Runs in the page script's scope (it uses `el`, `api`, `table`, `put`, `ACTIONS`).
 */
export const MAINTENANCE_SCRIPT = `  function actionName(action) { return action.replace(/-/g, " "); }
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
            return [b.id, b.serial, b.client, productLabel(b), localTime(b.expiresAt), relative(b.expiresAt, keyClock(b.serial))];
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
  }`;
