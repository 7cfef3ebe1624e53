// A static host for `cargo xtask bench`'s login round trip: serves <dir> on
// 127.0.0.1:<port> like a production static host, with the SPA fallback (a path without
// a file extension that is not a file gets index.html). No dependencies.
//
//   node serve.mjs <dir> <port>
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const [dir, port] = [process.argv[2], Number(process.argv[3])];
const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".wasm": "application/wasm",
  ".css": "text/css",
  ".json": "application/json",
  ".svg": "image/svg+xml",
};

createServer(async (request, response) => {
  const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname));
  if (path.includes("..")) {
    response.writeHead(400).end();
    return;
  }
  const file = path === "/" || !extname(path) ? "/index.html" : path;
  try {
    const body = await readFile(join(dir, file));
    response.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" });
    response.end(body);
  } catch {
    response.writeHead(404).end();
  }
}).listen(port, "127.0.0.1", () => console.log("ready"));
