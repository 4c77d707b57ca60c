/** The dashboard's style sheet (inlined into the page). */
export const DASHBOARD_CSS = `  :root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #ffffff; --panel: #f6f8fa;
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
  #plan-result { flex-basis: 100%; margin: 0; min-height: 1.45em; }`;
