// Runs a WASI command module under Node.js (V8's JIT): a reference engine
// for checking the wasm builds' checksums where no wasm3 or iwasm exists.
//   node --no-warnings bench/wasi_node.mjs FILE.wasm [ARGS...]
// or, in the harness:
//   --engine node="node --no-warnings bench/wasi_node.mjs"
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import { argv, env, exit } from 'node:process';

const wasi = new WASI({
  version: 'preview1',
  args: argv.slice(2),   // the guest's argv[0] is the module path
  env,
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(argv[2]));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
