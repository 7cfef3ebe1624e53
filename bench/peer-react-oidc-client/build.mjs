// Bundles the peer app the way a production deploy would: one minified ESM bundle,
// NODE_ENV=production, plus index.html and the auth config, into dist/.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

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
  outfile: "dist/app.js",
  logLevel: "warning",
});
copyFileSync("index.html", "dist/index.html");
copyFileSync("auth_config.json", "dist/auth_config.json");
copyFileSync("silent-callback.html", "dist/silent-callback.html");
