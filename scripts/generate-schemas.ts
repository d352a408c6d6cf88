import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { jsonSchemaOf, SCHEMA_NAMES } from "../src/schemas.js";

// Writes schemas/<name>.schema.json; with --check, fails if any is missing or stale.
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");
let stale = 0;
mkdirSync(join(root, "schemas"), { recursive: true });
for (const name of SCHEMA_NAMES) {
  const file = join(root, "schemas", `${name}.schema.json`);
  const text = `${JSON.stringify(jsonSchemaOf(name), null, 2)}\n`;
  let current = "";
  try {
    current = readFileSync(file, "utf8");
  } catch {}
  if (current === text) continue;
  if (check) {
    process.stderr.write(`schemas/${name}.schema.json is out of date: run npm run schemas\n`);
    stale++;
  } else {
    writeFileSync(file, text);
    process.stdout.write(`wrote schemas/${name}.schema.json\n`);
  }
}
process.exit(stale ? 1 : 0);
