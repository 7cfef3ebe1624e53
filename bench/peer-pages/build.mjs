// Bundles a React peer of `cargo xtask bench` the way a production deploy would: one
// minified ESM bundle, NODE_ENV=production, plus index.html, the auth config and any extra
// files named, into dist/. Run from the peer's directory (its package.json "build" script):
//
//   node ../peer-pages/build.mjs "<title>" [extra files to copy...]
//
// esbuild and every package (also for ../peer-pages/pages.jsx) come from the peer's own
// node_modules, at the versions in its package-lock.json.
import { createRequire } from "node:module";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [title, ...extra] = process.argv.slice(2);
const peerRequire = createRequire(join(process.cwd(), "package.json"));
const { build } = peerRequire("esbuild");

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist");
await build({
  entryPoints: ["src/main.jsx"],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  jsx: "automatic",
  define: { "process.env.NODE_ENV": '"production"' },
  legalComments: "none",
  nodePaths: [join(process.cwd(), "node_modules")],
  outfile: "dist/app.js",
  logLevel: "warning",
});
writeFileSync(
  "dist/index.html",
  `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Peer: ${title}</title>
  </head>
  <body>
    <div id="root"></div>
    <script type="module" src="/app.js"></script>
  </body>
</html>
`,
);
for (const file of ["auth_config.json", ...extra]) copyFileSync(file, join("dist", file));
