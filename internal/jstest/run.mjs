// run.mjs runs a Go js/wasm binary (usually a test binary built with
// `GOOS=js GOARCH=wasm go test -c`) inside a jsdom window, so that
// syscall/js and go-app see a browser: window, document, events, iframes,
// MessageEvent and postMessage.
//
//   node run.mjs [--url URL] [--goroot DIR] BINARY.wasm [ARGS...]
//
// The page starts as <!doctype html><html><head></head><body><div></div></body></html>
// at URL (default http://app.test/). The Go program is loaded with Go's own
// wasm_exec.js from GOROOT (flag, $GOROOT, or `go env GOROOT`), evaluated in
// the window, so js.Global() is the jsdom window. Node's fs and process are
// handed to it, so the program's stdout and stderr are the runner's.
//
// For tests, the window gets:
//   - Response (node's), since jsdom has no fetch API; tests stub fetch;
//   - jstestListeners(type): how many listeners of that type are registered
//     on window now (addEventListener and removeEventListener are counted).
//
// The exit status is the Go program's; a program that stops with work
// pending (a deadlock) exits 1.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { webcrypto } from "node:crypto";
import { TextEncoder, TextDecoder } from "node:util";
import { JSDOM, VirtualConsole } from "jsdom";

function usage(msg) {
  process.stderr.write(`jstest: ${msg}\nusage: node run.mjs [--url URL] [--goroot DIR] BINARY.wasm [ARGS...]\n`);
  process.exit(2);
}

let url = "http://app.test/";
let goroot = process.env.GOROOT || "";
const argv = process.argv.slice(2);
while (argv.length && argv[0].startsWith("--")) {
  const flag = argv.shift();
  if (flag === "--url") url = argv.shift();
  else if (flag === "--goroot") goroot = argv.shift();
  else usage(`unknown flag ${flag}`);
}
const binary = argv.shift();
if (!binary) usage("no wasm binary given");
if (!fs.existsSync(binary)) usage(`${binary}: no such file`);

if (!goroot) {
  goroot = execFileSync("go", ["env", "GOROOT"], { encoding: "utf8" }).trim();
}
const wasmExec = [
  path.join(goroot, "lib", "wasm", "wasm_exec.js"),
  path.join(goroot, "misc", "wasm", "wasm_exec.js"),
].find((p) => fs.existsSync(p));
if (!wasmExec) usage(`wasm_exec.js not found under ${goroot}/lib/wasm or ${goroot}/misc/wasm`);

const virtualConsole = new VirtualConsole();
virtualConsole.sendTo(console);
const dom = new JSDOM("<!doctype html><html><head></head><body><div></div></body></html>", {
  url,
  runScripts: "outside-only",
  pretendToBeVisual: true,
  virtualConsole,
});
const win = dom.window;

// What wasm_exec.js needs and jsdom lacks or implements for its own realm.
win.fs = fs;
win.process = process;
Object.defineProperty(win, "crypto", { value: webcrypto, configurable: true });
if (!win.TextEncoder) win.TextEncoder = TextEncoder;
if (!win.TextDecoder) win.TextDecoder = TextDecoder;
win.Response = Response;

// Count live window listeners by type.
const live = new Map();
const add = win.addEventListener.bind(win);
const remove = win.removeEventListener.bind(win);
win.addEventListener = function (type, fn, opts) {
  if (!live.has(type)) live.set(type, new Set());
  live.get(type).add(fn);
  return add(type, fn, opts);
};
win.removeEventListener = function (type, fn, opts) {
  live.get(type)?.delete(fn);
  return remove(type, fn, opts);
};
win.jstestListeners = (type) => (live.get(type) ? live.get(type).size : 0);

win.eval(fs.readFileSync(wasmExec, "utf8"));
const go = new win.Go();
go.argv = [path.basename(binary), ...argv];
go.env = Object.assign({ TMPDIR: os.tmpdir() }, process.env);
let exitCode = null;
go.exit = (code) => {
  exitCode = code;
};

process.on("exit", (code) => {
  if (exitCode === null && code === 0) {
    process.stderr.write("jstest: the Go program stopped before exiting (deadlock?)\n");
    process.exitCode = 1;
  }
});

try {
  const { instance } = await win.WebAssembly.instantiate(fs.readFileSync(binary), go.importObject);
  await go.run(instance);
} catch (err) {
  process.stderr.write(`jstest: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}
dom.window.close();
process.exit(exitCode ?? 1);
