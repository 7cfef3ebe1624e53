// oidc-provider (panva/node-oidc-provider, OpenID Certified) configured as an independent
// authorization server for Hashgate's interop browser tests (tests/browser_interop.rs).
//
// Run (after `npm ci` in this directory; `cargo xtask test` does both):
//
//   node tests/interop/provider.mjs --port 4000 --spa-origin http://127.0.0.1:8080 \
//     --audience https://api.hashgate.local
//
// Issuer: http://127.0.0.1:PORT (no trailing slash, as this provider writes it). Prints
// `ready <issuer>` on stdout once listening, then one JSON line per protocol event (see
// `event` below: parameter names and outcomes, never a token, code, state or verifier), which
// the tests read to see what the app asked for. Development and tests only: in-memory
// storage, dev interaction pages (any login, any password), keys generated at start-up.
//
// What it registers:
// - client `hashgate-spa` (public: token_endpoint_auth_method none) for both of Hashgate's
//   flows: the implicit one (response types `id_token token` and `id_token`) and the
//   authorization code flow with PKCE (response type `code`, grant types authorization_code
//   and refresh_token); redirect URIs {spa}/callback and {spa}/silent-callback.html (silent
//   renewal: this provider has no web_message), post-logout redirect {spa}/, and {spa} as the
//   one origin allowed to call the token and revocation endpoints (CORS);
// - one API (resource indicator = --audience) with scopes read:messages write:messages whose
//   access tokens are RS256 JWTs with aud = the audience.
//
// The code flow, as the pinned version does it:
// - PKCE is required, S256 only (RFC 7636; RFC 9700 §2.1.1 for public clients);
// - every authorization response carries `iss` (RFC 9207): always on in this version, and
//   advertised as `authorization_response_iss_parameter_supported: true`;
// - refresh tokens rotate on every use (the default `rotateRefreshToken` policy rotates a
//   public client's tokens), and presenting a spent one revokes the whole grant;
// - refresh tokens outlive the browser session, as at Auth0 and Okta: ending the session
//   (RP-initiated logout) leaves them valid, so only the app's revocation (RFC 7009) at
//   logout ends them.
//
// Hashgate sends Auth0's `audience` parameter, not RFC 8707 `resource`: `audience` is
// registered as an extra authorization parameter and `defaultResource` turns it into the
// resource indicator when no `resource` was sent. See docs/providers.md.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.INTEROP_PORT },
    'spa-origin': { type: 'string', default: process.env.INTEROP_SPA_ORIGIN },
    audience: { type: 'string', default: process.env.INTEROP_AUDIENCE ?? 'https://api.hashgate.local' },
    'client-id': { type: 'string', default: process.env.INTEROP_CLIENT_ID ?? 'hashgate-spa' },
    'access-token-ttl': { type: 'string', default: process.env.INTEROP_ACCESS_TOKEN_TTL ?? '3600' },
    // `off` (default), `on`: DPoP (RFC 9449) required of the client (`dpop_bound_access_tokens`),
    // `nonce`: the same, and every proof must carry a server nonce (§8).
    dpop: { type: 'string', default: process.env.INTEROP_DPOP ?? 'off' },
  },
});

function fail(message) {
  process.stderr.write(`provider.mjs: ${message}\n`);
  process.exit(2);
}

const port = Number.parseInt(args.port ?? '', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail('--port (or INTEROP_PORT) is required');
const spaOrigin = args['spa-origin'];
if (!spaOrigin || new URL(spaOrigin).origin !== spaOrigin) {
  fail('--spa-origin (or INTEROP_SPA_ORIGIN) must be an origin such as http://127.0.0.1:8080');
}
const audience = args.audience;
const clientId = args['client-id'];
const accessTokenTTL = Number.parseInt(args['access-token-ttl'], 10);
const issuer = `http://127.0.0.1:${port}`;
const API_SCOPES = 'read:messages write:messages';
if (!['off', 'on', 'nonce'].includes(args.dpop)) fail('--dpop must be off, on or nonce');
const dpop = args.dpop !== 'off';

// One line of JSON on stdout per protocol event. Only names, modes and outcomes: a token,
// code, state, nonce or PKCE value never appears here.
function event(name, fields) {
  process.stdout.write(`${JSON.stringify({ event: name, ...fields })}\n`);
}

// Demo accounts: the dev login page accepts any login and password; these logins get the
// same names as hashgate-idp's demo users, anyone else gets their login as name.
const PEOPLE = {
  alice: { name: 'Alice Example', email: 'alice@example.com' },
  bob: { name: 'Bob Example', email: 'bob@example.com' },
};

async function findAccount(ctx, sub) {
  const person = PEOPLE[sub] ?? { name: sub, email: `${sub}@example.com` };
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        name: person.name,
        nickname: sub,
        preferred_username: sub,
        email: person.email,
        email_verified: true,
      };
    },
  };
}

// A fresh RS256 signing key per run (the only key, so every token is RS256).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'interop-rs256', use: 'sig', alg: 'RS256' };

// Origins a client may call the token, revocation and userinfo endpoints from: no
// specification defines such client metadata, so it is a custom property, checked by
// `clientBasedCORS` (the pattern of oidc-provider's recipes/client_based_origins.md).
const CORS_ORIGINS = 'urn:hashgate:client:allowed-cors-origins';

// A public browser client doing the code flow: it gets a refresh token (below).
function isPublicWebClient(client) {
  return client.applicationType === 'web' && client.clientAuthMethod === 'none';
}

const configuration = {
  clients: [
    {
      client_id: clientId,
      client_name: 'Hashgate',
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      // A DPoP-bound client cannot get tokens from the authorization endpoint (RFC 9449 §10):
      // with --dpop it is registered for the code flow only.
      grant_types: dpop ? ['authorization_code', 'refresh_token'] : ['implicit', 'authorization_code', 'refresh_token'],
      response_types: dpop ? ['code'] : ['id_token token', 'id_token', 'code'],
      redirect_uris: [`${spaOrigin}/callback`, `${spaOrigin}/silent-callback.html`],
      post_logout_redirect_uris: [`${spaOrigin}/`],
      [CORS_ORIGINS]: [spaOrigin],
      // RFC 9449 §5.2: with --dpop every token request of this client needs a proof.
      dpop_bound_access_tokens: dpop,
    },
  ],
  extraClientMetadata: {
    properties: [CORS_ORIGINS],
    validator(ctx, key, value, metadata) {
      if (key !== CORS_ORIGINS) return;
      if (value === undefined) {
        metadata[key] = [];
        return;
      }
      const isOrigin = (origin) => {
        try {
          return typeof origin === 'string' && new URL(origin).origin === origin;
        } catch {
          return false;
        }
      };
      if (!Array.isArray(value) || !value.every(isOrigin)) {
        throw new errors.InvalidClientMetadata(`${key} must be an array of origins`);
      }
    },
  },
  responseTypes: ['id_token token', 'id_token', 'code'],
  // RFC 7636 with S256 only, for every client (the default requires it of public clients).
  pkce: { methods: ['S256'], required: () => true },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'nickname', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  // The SPA reads the profile from the ID token (it has no userinfo call), so the claims the
  // scopes ask for go in the ID token even when an access token comes with it.
  conformIdTokenClaims: false,
  findAccount,
  jwks: { keys: [signingKey] },
  cookies: {
    keys: [randomBytes(32).toString('base64url')],
    // Plain http on loopback: SameSite=None would need Secure, so the session cookie is Lax.
    // The app and the provider are same-site (127.0.0.1), so the silent-renewal iframe still
    // carries it.
    long: { httpOnly: true, sameSite: 'lax', signed: true },
    short: { httpOnly: true, sameSite: 'lax', signed: true },
  },
  // The token endpoint is called from the SPA's origin: each client names its own origins.
  clientBasedCORS(ctx, origin, client) {
    return client[CORS_ORIGINS].includes(origin);
  },
  // OIDC Core §11 wants `prompt=consent` with `offline_access`, and this provider drops
  // `offline_access` from a request without it; an SPA does not ask for consent at every
  // login. The policy oidc-provider documents for public web clients doing the code flow (its
  // `issueRefreshToken` example) issues the refresh token anyway. Hashgate keeps it only with
  // `useRefreshTokens`.
  async issueRefreshToken(ctx, client, code) {
    if (!client.grantTypeAllowed('refresh_token')) return false;
    return code.scopes.has('offline_access') || isPublicWebClient(client);
  },
  // By default a grant without `offline_access` ends with the browser session. Refresh tokens
  // of the code flow outlive it here (as at Auth0 and Okta), so that revoking them at logout
  // is the app's job and the tests can see it done. Implicit tokens keep the default.
  async expiresWithSession(ctx, token) {
    if (token.kind === 'AuthorizationCode' && isPublicWebClient(ctx.oidc.client)) return false;
    return !token.scopes.has('offline_access');
  },
  extraParams: ['audience'],
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    // RFC 7009: the app revokes its refresh token at logout.
    revocation: { enabled: true },
    // RFC 9449 with --dpop: bound access tokens (`cnf.jkt`), refresh tokens of this public
    // client bound to the key, `dpop_jkt` honoured; with `nonce`, server nonces (§8).
    dPoP: {
      enabled: dpop,
      ...(args.dpop === 'nonce'
        ? { nonceSecret: randomBytes(32), requireNonce: () => true }
        : {}),
    },
    resourceIndicators: {
      enabled: true,
      // Auth0's `audience` names the API when `resource` is absent.
      async defaultResource(ctx, client, oneOf) {
        if (oneOf) return oneOf;
        const requested = ctx.oidc.params.audience;
        return requested === audience ? audience : undefined;
      },
      async getResourceServerInfo(ctx, resourceIndicator) {
        if (resourceIndicator !== audience) {
          throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
        }
        return {
          scope: API_SCOPES,
          audience,
          accessTokenTTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
      async useGrantedResource() {
        return true;
      },
    },
  },
};

const provider = new Provider(issuer, configuration);

// oidc-provider refuses http and localhost redirect URIs for implicit web clients; the
// documented escape hatch is this override, acceptable here because everything is loopback.
const { invalidate } = provider.Client.Schema.prototype;
provider.Client.Schema.prototype.invalidate = function allowLoopbackHttp(message, code) {
  if (code === 'implicit-force-https' || code === 'implicit-forbid-localhost') return;
  invalidate.call(this, message, code);
};

// What the app asked for and got, for the tests (see `event`).
provider.on('authorization.success', (ctx, out) => {
  const { params } = ctx.oidc;
  event('authorization', {
    response_type: params.response_type,
    response_mode: ctx.oidc.responseMode,
    prompt: params.prompt ?? null,
    redirect_uri: params.redirect_uri,
    // As granted: `offline_access` is dropped without `prompt=consent` (see issueRefreshToken).
    scope: params.scope,
    code_challenge_method: params.code_challenge_method ?? null,
    // The DPoP key thumbprint the code is bound to (RFC 9449 §10): public, not a secret.
    dpop_jkt: params.dpop_jkt ?? null,
    // Which parameters the response carried (`iss`, RFC 9207), not their values.
    response: Object.keys(out).sort(),
  });
});
provider.on('authorization.error', (ctx, error) => {
  event('authorization_error', {
    error: error.error,
    prompt: ctx.oidc?.params?.prompt ?? null,
    response_type: ctx.oidc?.params?.response_type ?? null,
  });
});
provider.on('grant.success', (ctx) => {
  const { entities, params } = ctx.oidc;
  event('token', {
    grant_type: params.grant_type,
    origin: ctx.get('origin') || null,
    refresh_token_issued: Boolean(entities.RefreshToken),
    // The refresh token presented was spent and a new one issued in its place.
    rotated: Boolean(entities.RotatedRefreshToken),
    // RFC 9449 §6: the thumbprint the issued access token is bound to, if any.
    dpop_jkt: entities.AccessToken?.jkt ?? null,
  });
});
provider.on('grant.error', (ctx, error) => {
  event('token_error', {
    grant_type: ctx.oidc?.params?.grant_type ?? null,
    error: error.error,
  });
});
provider.on('revocation.error', (ctx, error) => {
  event('revocation_error', { error: error.error });
});
provider.on('end_session.success', () => {
  event('end_session', {});
});
// The revocation endpoint emits no success event: this middleware reports what it revoked.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route !== 'revocation' || ctx.method !== 'POST' || ctx.status !== 200) return;
  const { entities, params } = ctx.oidc;
  const revoked = ['RefreshToken', 'AccessToken'].find((kind) => entities[kind]);
  event('revocation', {
    origin: ctx.get('origin') || null,
    token_type_hint: params.token_type_hint ?? null,
    // `null` when the token was unknown (RFC 7009 §2.2 answers 200 all the same).
    revoked: revoked ?? null,
    // Whether the revoked refresh token had already been spent by a rotation.
    consumed: revoked === 'RefreshToken' ? Boolean(entities.RefreshToken.consumed) : null,
  });
});

provider.on('server_error', (ctx, error) => {
  process.stderr.write(`provider.mjs: server_error ${error?.stack ?? error}\n`);
});

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
server.on('error', (error) => fail(`cannot listen on 127.0.0.1:${port}: ${error.message}`));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
