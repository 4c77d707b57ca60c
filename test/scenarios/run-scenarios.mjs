// `npm run scenarios`: runs every scenario twice — on a naive server that keeps only key and
// registry, and on keybridge — against the virtual key, and prints the table of docs/scenarios.md.
// The build (`npm run build`) leaves src/ and native-mocks/ in dist/; the scenario sources are
// transpiled next to them here, so their relative imports land on the built modules.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const out = join(root, "dist", "test", "scenarios");
mkdirSync(out, { recursive: true });
for (const name of readdirSync(here)) {
  if (!name.endsWith(".ts") || name.endsWith(".test.ts")) continue;
  const { outputText } = ts.transpileModule(readFileSync(join(here, name), "utf8"), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    fileName: name,
  });
  writeFileSync(join(out, name.replace(/\.ts$/, ".js")), outputText);
}

const { setLogLevel } = await import(pathToFileURL(join(root, "dist", "src", "log.js")).href);
setLogLevel("error");
const { runScenario, formatTable, SCENARIO_IDS } = await import(pathToFileURL(join(out, "scenarios.js")).href);
const rows = [];
for (const id of SCENARIO_IDS) {
  process.stderr.write(`running ${id}…\n`);
  rows.push(await runScenario(id));
}
console.log(formatTable(rows));
const naive = rows.reduce((sum, row) => sum + row.naive.dummies, 0);
const keybridge = rows.reduce((sum, row) => sum + row.keybridge.dummies, 0);
console.log(JSON.stringify({ scenarios: rows.length, naive_dummies: naive, keybridge_dummies: keybridge }));
