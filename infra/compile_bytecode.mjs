// Compiles Python sources to bytecode for the Lambda runtime's CPython, with no such Python here.
//
// Run by infra/bundling.py (`compile_tree`), never by hand:
//     node infra/compile_bytecode.mjs REQUEST.json RESULT.json
// REQUEST.json: {"root": "/abs/dir", "files": ["functions/core/contract.py", ...], "dfile_root": "/var/task"}
// RESULT.json:  {"version", "cache_tag", "magic", "compiled", "failures": [{"file", "error"}]}
//
// The compiler is Pyodide (CPython compiled to WebAssembly, pinned in package.json): the same
// CPython release line as the runtime, so the same bytecode and magic number; bundling.py checks
// both before it ships anything. Each file is written next to its source as
// `__pycache__/<module>.<cache_tag>.pyc`, unchecked-hash: Lambda's code directory is read-only, so
// the runtime can never write a .pyc itself, and an unchecked-hash .pyc is loaded without a stat
// or a hash of the source. PYTHONHASHSEED=0 and a fixed file name in the code objects
// (`dfile_root`/<file>) keep the output byte-for-byte reproducible.
import { readFileSync, writeFileSync } from "node:fs";
import { loadPyodide } from "pyodide";

const [requestPath, resultPath] = process.argv.slice(2);
if (!requestPath || !resultPath) {
  console.error("usage: node compile_bytecode.mjs REQUEST.json RESULT.json");
  process.exit(2);
}
const request = JSON.parse(readFileSync(requestPath, "utf8"));
const py = await loadPyodide({
  env: { PYTHONHASHSEED: "0" },
  stdout: (line) => process.stderr.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
py.FS.mkdir("/asset");
py.FS.mount(py.FS.filesystems.NODEFS, { root: request.root }, "/asset");
py.globals.set("request_json", JSON.stringify(request));
const result = py.runPython(`
import importlib.util, json, py_compile, sys

def compile_all(request):
    failures = []
    for name in request["files"]:
        source = "/asset/" + name
        try:
            py_compile.compile(
                source,
                cfile=importlib.util.cache_from_source(source),
                dfile=request["dfile_root"] + "/" + name,
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
        except py_compile.PyCompileError as error:
            failures.append({"file": name, "error": error.msg})
    return json.dumps({
        "version": sys.version.split()[0],
        "cache_tag": sys.implementation.cache_tag,
        "magic": importlib.util.MAGIC_NUMBER.hex(),
        "compiled": len(request["files"]) - len(failures),
        "failures": failures,
    })

compile_all(json.loads(request_json))
`);
writeFileSync(resultPath, result);
