// Checks KQL files with the official Kusto parser and binder (the npm package
// @kusto/language-service-next, installed by tests/run into .tools/), against table schemas:
//   node tests/kql/check.js <schema.json> <file.kql>...
// schema.json: {"Table": {"Column": "string|datetime|bool|long|dynamic", ...}, ...}
// Prints every error with its file; exits 1 if there is one.
const path = require("path");
const tools = path.join(__dirname, "..", "..", ".tools", "node_modules", "@kusto", "language-service-next");
require(path.join(tools, "bridge"));
require(path.join(tools, "Kusto.Language.Bridge"));
const fs = require("fs");
const K = Kusto.Language;

const [schemaFile, ...files] = process.argv.slice(2);
const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
const tables = Object.entries(schema).map(([name, cols]) =>
  new K.Symbols.TableSymbol.$ctor7(
    name,
    "(" + Object.entries(cols).map(([c, t]) => `['${c}']:${t}`).join(", ") + ")",
    null,
  ),
);
const db = new K.Symbols.DatabaseSymbol.$ctor1("workspace", Bridge.toList(tables), false);
const globals = K.GlobalState.Default.WithDatabase(db);
let errors = 0;
for (const file of files) {
  const text = fs.readFileSync(file, "utf8");
  const code = K.KustoCode.ParseAndAnalyze(text, globals);
  for (const d of Bridge.toArray(code.GetDiagnostics())) {
    if (d.Severity !== "Error") continue;
    errors++;
    console.log(`${file}: ${d.Message} (at "${text.slice(d.Start, d.Start + 40)}")`);
  }
}
console.log(`${files.length} queries checked, ${errors} errors`);
process.exit(errors ? 1 : 0);
