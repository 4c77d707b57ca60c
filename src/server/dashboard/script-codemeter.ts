/**
 * The dashboard script's CodeMeter part: the section for the CodeMeter server on this host (runtime,
 * service, License Tracking, sticks, borrows with their expiry, its risks). Hidden, and never asked
 * for, while the status has no `codemeter` (the mode does not run). Runs in the page script's scope
 * (it uses `el`, `api`, `table`, `put`, `localTime`, `relative`).
 */
export const CODEMETER_SCRIPT = `  function yesNo(value, yes, no) { return value === null ? "unknown" : value ? yes : no; }
  function renderCodeMeter(v) {
    var box = $("codemeter");
    if (!v || !v.enabled) { box.hidden = true; $("codemeter-body").replaceChildren(); return; }
    box.hidden = false;
    var facts = el("dl", null, [
      el("dt", null, ["Runtime"]), el("dd", { id: "cm-runtime" }, [v.runtime.version || "version unknown"]),
      el("dt", null, ["Service"]), el("dd", { id: "cm-service", "class": v.runtime.serviceRunning === false ? "sev-critical" : "" },
                                      [yesNo(v.runtime.serviceRunning, "running", "NOT RUNNING")]),
      el("dt", null, ["License Tracking"]), el("dd", { id: "cm-tracking", "class": v.tracking.enabled === false ? "sev-warning" : "" },
                                      [yesNo(v.tracking.enabled, "on", "OFF: CodeMeter borrows are invisible to keybridge") +
                                       (v.tracking.dir ? " — " + v.tracking.dir : "")])
    ]);
    var sticks = table("CmSticks", ["Serial", "Model", "Present"], v.sticks.map(function (s) {
      return [s.serial, s.model || "–", s.present ? "yes" : { text: "NO", cls: "state-dummy" }];
    }));
    var borrows = table("CodeMeter borrows (read-only: keybridge cannot return them)",
      ["Borrow ID", "Stick", "Firm:Product", "Client", "User", "State", "Expires", "Time left"],
      v.borrows.map(function (b) {
        return [b.borrowId, b.serial || "–", (b.firmCode === null ? "?" : b.firmCode) + ":" + (b.productCode === null ? "?" : b.productCode) +
                (b.productText ? " " + b.productText : ""), b.client || "–", b.user || "–",
                b.state === "missing" ? { text: "missing (dummy likely)", cls: "state-dummy" } : b.state,
                b.expiresAt === null ? "never" : localTime(b.expiresAt), b.expiresAt === null ? "–" : relative(b.expiresAt)];
      }));
    var risks = v.risks.length === 0 ? el("p", { "class": "empty", id: "cm-no-risks" }, ["No open CodeMeter risks."]) :
      el("div", { id: "cm-risks" }, v.risks.map(function (r) {
        return el("article", { "class": "risk " + r.severity, "data-kind": r.kind }, [
          el("p", null, [el("span", { "class": "sev sev-" + r.severity }, [r.severity]), " ", el("strong", null, [r.kind]),
                         " since " + localTime(r.since)]),
          el("p", null, [r.message]),
          el("p", null, [el("strong", null, ["What to do: "]), r.advice || ""])
        ]);
      }));
    $("codemeter-body").replaceChildren(facts, el("div", { id: "cm-sticks" }, [sticks]), el("div", { id: "cm-borrows" }, [borrows]), risks);
  }
  /** Asked for only when the status says the CodeMeter mode runs. */
  function loadCodeMeter(summary) {
    if (!summary) { renderCodeMeter(null); return Promise.resolve(); }
    return api("/v1/codemeter").then(renderCodeMeter)
      .catch(function (e) { if (e.message !== "unauthorized") $("error").textContent = "Could not load CodeMeter: " + e.message; });
  }`;
