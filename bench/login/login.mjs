// The login round trip of `cargo xtask bench`, over chromedriver's WebDriver HTTP API
// (node's own fetch; no packages). For one app served at <appUrl>:
// 1. sign in once through the provider's login form (username/password), which leaves the
//    provider's session cookie in the browser;
// 2. <runs> times: go to about:blank (the app's in-memory tokens are gone), start a clock,
//    open <appUrl>/profile, and stop it when the page's data-auth-state is "authenticated"
//    (polled over WebDriver, so each time includes up to one poll round trip, ~2-5 ms).
// Prints `run <ms>` per run and `result <median> <min> <max> <p10> <p90> <n>` at the end,
// after `callback <median> <p10> <p90> <n>` when the app records the User Timing measure
// `hashgate:callback` (Hashgate does, on either flow; the peers do not). The flow is the
// app's business: its auth_config.json, written by the bench, picks it.
//
//   node login.mjs <chromedriverPort> <appUrl> <runs> <chromium> <profileDir>
const [driverPort, appUrl, runs, chromium, profileDir] = process.argv.slice(2);
const base = `http://127.0.0.1:${driverPort}`;

async function call(method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value?.message ?? json)}`);
  return json.value;
}

const session = await call("POST", "/session", {
  capabilities: {
    alwaysMatch: {
      browserName: "chrome",
      "goog:chromeOptions": {
        binary: chromium,
        args: [
          "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage", "--window-size=1280,900", `--user-data-dir=${profileDir}`,
        ],
      },
    },
  },
});
const s = `/session/${session.sessionId}`;
const script = (source) => call("POST", `${s}/execute/sync`, { script: source, args: [] });
const authState = () =>
  script("const e = document.querySelector('[data-auth-state]'); return e ? e.getAttribute('data-auth-state') : null;").catch(() => null);

async function waitFor(predicate, what, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const url = await call("GET", `${s}/url`).catch(() => "?");
  throw new Error(`timed out waiting for ${what} (at ${url})`);
}

const find = async (css) => Object.values(await call("POST", `${s}/element`, { using: "css selector", value: css }))[0];

try {
  // 1. One interactive login: the provider's form, then back to the app.
  await call("POST", `${s}/url`, { url: `${appUrl}/profile` });
  await waitFor(async () => (await authState()) === "authenticated" || (await script("return !!document.querySelector('input[name=username]')")), "the login form");
  if ((await authState()) !== "authenticated") {
    await call("POST", `${s}/element/${await find("input[name=username]")}/value`, { text: "alice" });
    await call("POST", `${s}/element/${await find("input[name=password]")}/value`, { text: "alice-password" });
    await call("POST", `${s}/element/${await find("form button[type=submit], form input[type=submit], form button")}/click`, {});
    await waitFor(async () => (await authState()) === "authenticated", "the first login");
  }

  // 2. Timed runs, signed out in the app, signed in at the provider.
  const times = [];
  const callbacks = [];
  for (let i = 0; i < Number(runs); i++) {
    await call("POST", `${s}/url`, { url: "about:blank" });
    const started = performance.now();
    // Navigation returns once the first document has loaded; the clock keeps running.
    await call("POST", `${s}/url`, { url: `${appUrl}/profile` });
    await waitFor(async () => (await authState()) === "authenticated", `run ${i + 1}`);
    const ms = performance.now() - started;
    times.push(ms);
    console.log(`run ${ms.toFixed(1)}`);
    // Hashgate's own User Timing measure: authorization response taken → validated session
    // (for the code flow, the token endpoint round trip included).
    const callback = await script(
      "const e = performance.getEntriesByName('hashgate:callback'); return e.length ? e[e.length - 1].duration : null"
    );
    if (typeof callback === "number") callbacks.push(callback);
  }
  if (callbacks.length > 0) {
    callbacks.sort((a, b) => a - b);
    const c = (q) => callbacks[Math.min(callbacks.length - 1, Math.floor(q * callbacks.length))];
    console.log(`callback ${c(0.5).toFixed(1)} ${c(0.1).toFixed(1)} ${c(0.9).toFixed(1)} ${callbacks.length}`);
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  console.log(`result ${at(0.5).toFixed(1)} ${times[0].toFixed(1)} ${times[times.length - 1].toFixed(1)} ${at(0.1).toFixed(1)} ${at(0.9).toFixed(1)} ${times.length}`);
} finally {
  await call("DELETE", s).catch(() => {});
}
