// Evaluated first in every fresh JavaScript context that runs a rule or an Action.
// It defines the globals Auth0 rules expect and returns a small harness that records
// the single outcome of the run (the first callback / deny / error wins), so the
// Rust side never depends on globals a rule could overwrite.
(function (log, configuration) {
  'use strict';
  const g = globalThis;

  class UnauthorizedError extends Error {
    constructor(message) {
      super(message);
      this.name = 'UnauthorizedError';
    }
  }

  const show = (v) => {
    if (typeof v === 'string') return v;
    try {
      const s = JSON.stringify(v);
      return s === undefined ? String(v) : s;
    } catch (e) {
      return String(v);
    }
  };
  const print = (...args) => { log(args.map(show).join(' ')); };
  const describe = (err) => {
    try {
      if (err instanceof Error) return String(err.name || 'Error') + ': ' + String(err.message);
      return 'a non-error value was thrown: ' + show(err);
    } catch (e) {
      return 'an unprintable error';
    }
  };
  const isUnauthorized = (err) =>
    err instanceof UnauthorizedError || (err instanceof Error && err.name === 'UnauthorizedError');

  g.UnauthorizedError = UnauthorizedError;
  g.console = { log: print, info: print, warn: print, error: print, debug: print };
  g.configuration = configuration;
  g.require = (name) => {
    throw new Error("require('" + String(name) + "') is not available: hashgate-idp runs rules without modules, files or network");
  };

  let outcome = null;
  const settle = (o) => { if (outcome === null) outcome = o; };
  const stackOf = (err) => {
    try { return err instanceof Error ? String(err.stack || '') : ''; } catch (e) { return ''; }
  };
  const failure = (err) => isUnauthorized(err)
    ? { kind: 'deny', message: String(err.message) }
    : { kind: 'error', message: describe(err), stack: stackOf(err) };

  return {
    outcome: () => outcome,

    // function (user, context, callback)
    runRule(rule, user, context) {
      if (typeof rule !== 'function') {
        settle({ kind: 'error', message: 'the file is not a function (user, context, callback)' });
        return;
      }
      const callback = (err, u, c) => {
        if (outcome !== null) return;
        if (err) { settle(failure(err)); return; }
        try {
          settle({
            kind: 'ok',
            user: JSON.stringify(u === undefined ? user : u),
            context: JSON.stringify(c === undefined ? context : c),
          });
        } catch (e) {
          settle({ kind: 'error', message: 'callback arguments cannot be serialized: ' + describe(e) });
        }
      };
      try {
        rule(user, context, callback);
      } catch (e) {
        settle(failure(e));
      }
    },

    // exports.onExecutePostLogin = async (event, api) => { ... }
    runAction(load, event) {
      const idToken = {};
      const accessToken = {};
      let denied = null;
      const api = {
        idToken: { setCustomClaim(name, value) { idToken[String(name)] = value; } },
        accessToken: { setCustomClaim(name, value) { accessToken[String(name)] = value; } },
        access: { deny(reason) { if (denied === null) denied = String(reason); } },
      };
      const finish = () => {
        if (denied !== null) { settle({ kind: 'deny', message: denied }); return; }
        try {
          settle({ kind: 'ok', idToken: JSON.stringify(idToken), accessToken: JSON.stringify(accessToken) });
        } catch (e) {
          settle({ kind: 'error', message: 'custom claims cannot be serialized: ' + describe(e) });
        }
      };
      try {
        const module = { exports: {} };
        load(module.exports, module, g.require);
        const handler = module.exports.onExecutePostLogin;
        if (typeof handler !== 'function') {
          settle({ kind: 'error', message: 'exports.onExecutePostLogin is not a function' });
          return;
        }
        Promise.resolve(handler(event, api)).then(finish, (e) => settle(failure(e)));
      } catch (e) {
        settle(failure(e));
      }
    },
  };
})
