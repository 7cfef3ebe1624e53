// The login round trip and the reload of `cargo xtask bench`, over chromedriver's WebDriver
// HTTP API (node's own fetch; no packages). For one app served at <appUrl>:
// 1. sign in once through the provider's login form (username/password), which leaves the
//    provider's session cookie in the browser (and, with a stored session, the app's tokens);
// 2. <runs> times, by <mode>:
//    - `login`: signed out in the app (go to about:blank, so in-memory tokens are gone, after
//      removing any user session the app stored itself), open <appUrl>/profile;
//    - `reload`: signed in, reload the page (WebDriver `refresh`);
//    and wait until the page's data-auth-state is "authenticated".
// The wall clock (`run`, `result`) includes WebDriver's round trips and one poll (~2-5 ms).
// The page's own clock does not: a script added to every new document (DevTools
// `Page.addScriptToEvaluateOnNewDocument`, which the page's CSP does not apply to) sets the
// mark `bench:authenticated` when data-auth-state becomes "authenticated", and each run's
// steps are read from Navigation Timing, Resource Timing and the app's User Timing marks
// (hashgate-auth's `timing` module): see `steps` below. Printed at the end:
//   step\t<name>\t<median start> <median end> <median duration> <n>   (ms since navigation start)
//   callback <median> <p10> <p90> <n>       the app's measure `hashgate:callback`
//   callback-rest <median> <p10> <p90> <n>  the same without the token endpoint's request
//   fetched <path> <max count in one run>   config, discovery, JWKS (a preload reused is 1)
//   page <median> <p10> <p90> <n>           navigation start → `bench:authenticated`
//   result <median> <min> <max> <p10> <p90> <n>
//
//   node login.mjs <chromedriverPort> <appUrl> <runs> <chromium> <profileDir> [login|reload]
const [driverPort, appUrl, runs, chromium, profileDir, mode = "login"] = process.argv.slice(2);
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

// The top document marks the moment it shows the signed-in state.
await call("POST", `${s}/goog/cdp/execute`, {
  cmd: "Page.addScriptToEvaluateOnNewDocument",
  params: {
    source: `if (window.top === window) {
      const seen = (o) => {
        if (document.querySelector('[data-auth-state="authenticated"]')) {
          performance.mark("bench:authenticated");
          o.disconnect();
        }
      };
      const o = new MutationObserver(() => seen(o));
      o.observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-auth-state"] });
    }`,
  },
});

// One run's timeline, read from the page after it signed in.
const timeline = () =>
  script(`
    const nav = performance.getEntriesByType("navigation")[0];
    const pick = (e) => ({ name: e.name, type: e.initiatorType, start: e.startTime, end: e.responseEnd || e.startTime + e.duration });
    return {
      html: nav ? nav.responseEnd : null,
      resources: performance.getEntriesByType("resource").map(pick),
      marks: Object.fromEntries(performance.getEntriesByType("mark").map((m) => [m.name, m.startTime])),
      callback: (() => { const e = performance.getEntriesByName("hashgate:callback"); return e.length ? { start: e[e.length - 1].startTime, duration: e[e.length - 1].duration } : null; })(),
    };`);

const path = (url) => { try { return new URL(url).pathname; } catch { return ""; } };

// The steps of one run, each [start, end] in ms since the navigation started; a step the app
// does not take (or the browser does not report) is absent.
function steps(t) {
  const out = {};
  const origin = new URL(appUrl).origin;
  const ours = t.resources.filter((r) => r.name.startsWith(origin));
  const first = (list, test) => list.find(test);
  if (t.html != null) out.html = [0, t.html];
  const js = first(ours, (r) => path(r.name).endsWith(".js") && !path(r.name).includes("silent-callback"));
  if (js) out["js fetched"] = [js.start, js.end];
  const wasm = first(ours, (r) => path(r.name).endsWith(".wasm"));
  if (wasm) out["wasm fetched"] = [wasm.start, wasm.end];
  const m = t.marks;
  if (wasm && m["hashgate:start"] != null) out["wasm compiled, app started"] = [wasm.end, m["hashgate:start"]];
  // Each document: its request (Resource Timing), then, for Hashgate, when the app had it
  // read and checked (its mark), counted from the later of the request's end and the step
  // before (the app cannot use a response before it runs).
  const doc = (label, entry, mark, after) => {
    if (entry) out[`${label} fetched`] = [entry.start, entry.end];
    if (m[mark] != null) {
      const from = Math.max(entry ? entry.end : 0, after ?? 0);
      out[`${label} read (${mark})`] = [from, m[mark]];
    }
  };
  doc("auth_config.json", first(ours, (r) => path(r.name) === "/auth_config.json"), "hashgate:config", m["hashgate:start"]);
  doc("discovery", first(t.resources, (r) => path(r.name).endsWith("/.well-known/openid-configuration")), "hashgate:discovery", m["hashgate:config"]);
  doc("JWKS", first(t.resources, (r) => path(r.name).endsWith("/jwks.json")), "hashgate:jwks", m["hashgate:discovery"]);
  if (m["hashgate:authorize"] != null && m["hashgate:callback-start"] != null && m["hashgate:callback-start"] > m["hashgate:authorize"]) {
    out["authorize (iframe sent → answer)"] = [m["hashgate:authorize"], m["hashgate:callback-start"]];
  } else {
    const frame = first(t.resources, (r) => r.type === "iframe" && path(r.name).endsWith("/authorize"));
    if (frame) out["authorize (iframe sent → answer)"] = [frame.start, frame.end];
  }
  const token = first(t.resources, (r) => path(r.name).endsWith("/oauth/token"));
  if (token) out["token endpoint"] = [token.start, token.end];
  if (t.callback) out["callback (answer → validated)"] = [t.callback.start, t.callback.start + t.callback.duration];
  const done = m["bench:authenticated"];
  if (done != null) {
    const validated = t.callback ? t.callback.start + t.callback.duration : null;
    if (validated != null && done >= validated) out["validated → signed-in page"] = [validated, done];
    out["navigation → signed-in page"] = [0, done];
  }
  return out;
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

try {
  // 1. One interactive login: the provider's form, then back to the app.
  await call("POST", `${s}/url`, { url: `${appUrl}/profile` });
  await waitFor(async () => ["authenticated", "error"].includes(await authState()) || (await script("return !!document.querySelector('input[name=username]')")), "the login form");
  if ((await authState()) === "error") {
    // The app refused to start (e.g. a setting this build does not accept): no row, a reason.
    const text = await script("return document.querySelector('[data-auth-state]').innerText");
    console.log(`refused ${String(text).replace(/\s+/g, " ").slice(0, 300)}`);
    await call("DELETE", s).catch(() => {});
    process.exit(0);
  }
  if ((await authState()) !== "authenticated") {
    await call("POST", `${s}/element/${await find("input[name=username]")}/value`, { text: "alice" });
    await call("POST", `${s}/element/${await find("input[name=password]")}/value`, { text: "alice-password" });
    await call("POST", `${s}/element/${await find("form button[type=submit], form input[type=submit], form button")}/click`, {});
    await waitFor(async () => (await authState()) === "authenticated", "the first login");
  }

  // 2. Timed runs.
  const times = [];
  const callbacks = [];
  const callbackRests = [];
  const pages = [];
  const stepRuns = {};
  const fetched = {};
  for (let i = 0; i < Number(runs); i++) {
    let started;
    if (mode === "reload") {
      started = performance.now();
      await call("POST", `${s}/refresh`, {});
    } else {
      // Signed out in the app: a user session a library keeps in sessionStorage by itself
      // (oidc-client's `oidc.user:*`) would restore the user without any request.
      await script("for (const k of Object.keys(sessionStorage)) if (k.startsWith('oidc.user:')) sessionStorage.removeItem(k);").catch(() => {});
      await call("POST", `${s}/url`, { url: "about:blank" });
      started = performance.now();
      // Navigation returns once the first document has loaded; the clock keeps running.
      await call("POST", `${s}/url`, { url: `${appUrl}/profile` });
    }
    await waitFor(async () => (await authState()) === "authenticated", `run ${i + 1}`);
    const ms = performance.now() - started;
    times.push(ms);
    console.log(`run ${ms.toFixed(1)}`);
    // The observer's mark and the app's last requests may trail the poll by a moment.
    let t;
    for (let tries = 0; tries < 50; tries++) {
      t = await timeline();
      if (t.marks["bench:authenticated"] != null) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const runSteps = steps(t);
    for (const [name, [start, end]] of Object.entries(runSteps)) (stepRuns[name] ??= []).push([start, end]);
    if (runSteps["navigation → signed-in page"]) pages.push(runSteps["navigation → signed-in page"][1]);
    for (const suffix of ["/auth_config.json", "/.well-known/openid-configuration", "/.well-known/jwks.json"]) {
      const count = t.resources.filter((r) => path(r.name).endsWith(suffix)).length;
      fetched[suffix] = Math.max(fetched[suffix] ?? 0, count);
    }
    // Hashgate's own User Timing measure: authorization response taken → validated session
    // (for the code flow, the token endpoint's request included; `callback-rest` leaves it out).
    if (t.callback) {
      callbacks.push(t.callback.duration);
      const token = runSteps["token endpoint"];
      callbackRests.push(t.callback.duration - (token ? token[1] - token[0] : 0));
    }
  }
  for (const [name, list] of Object.entries(stepRuns)) {
    const start = quantile(list.map((x) => x[0]), 0.5);
    const end = quantile(list.map((x) => x[1]), 0.5);
    const duration = quantile(list.map((x) => x[1] - x[0]), 0.5);
    console.log(`step\t${name}\t${start.toFixed(1)} ${end.toFixed(1)} ${duration.toFixed(1)} ${list.length}`);
  }
  for (const [suffix, count] of Object.entries(fetched)) console.log(`fetched ${suffix} ${count}`);
  const summary = (label, values) => {
    if (values.length > 0) console.log(`${label} ${quantile(values, 0.5).toFixed(1)} ${quantile(values, 0.1).toFixed(1)} ${quantile(values, 0.9).toFixed(1)} ${values.length}`);
  };
  summary("callback", callbacks);
  summary("callback-rest", callbackRests);
  summary("page", pages);
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  console.log(`result ${at(0.5).toFixed(1)} ${times[0].toFixed(1)} ${times[times.length - 1].toFixed(1)} ${at(0.1).toFixed(1)} ${at(0.9).toFixed(1)} ${times.length}`);
} finally {
  await call("DELETE", s).catch(() => {});
}
