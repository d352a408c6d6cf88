#!/usr/bin/env node
// A stop signal that arrives while the modules load is held for `run`, which takes it over with its
// own handlers (no gap in between) and stops cleanly on it; any other command gets the default action
// (terminate) as soon as it is loaded.
const early = [];
const hold = (signal) => early.push(signal);
process.on("SIGTERM", hold);
process.on("SIGINT", hold);
const { main } = await import("../dist/cli/main.js");
const takeSignals = () => {
  process.off("SIGTERM", hold);
  process.off("SIGINT", hold);
  return early;
};
if (commandOf(process.argv.slice(2)) !== "run") {
  takeSignals();
  if (early.length > 0) process.kill(process.pid, early[0]);
}

main(process.argv, { takeSignals }).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`chainwatch: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);

/** The command word: the first argument that is not a global option (`--log-level x`, `--x=y`, `-h`). */
function commandOf(args) {
  let i = 0;
  while (i < args.length && args[i].startsWith("-")) {
    i += args[i].includes("=") || args[i] === "-h" || args[i] === "--help" ? 1 : 2;
  }
  return args[i];
}
