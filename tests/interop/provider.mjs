// oidc-provider (panva/node-oidc-provider, OpenID Certified) configured as an independent
// authorization server for Hashgate's interop browser tests (tests/browser_interop.rs).
//
// Run (after `npm ci` in this directory; `cargo xtask test` does both):
//
//   node tests/interop/provider.mjs --port 4000 --spa-origin http://127.0.0.1:8080 \
//     --audience https://api.hashgate.local
//
// Issuer: http://127.0.0.1:PORT (no trailing slash, as this provider writes it). Prints
// `ready <issuer>` on stdout once listening. Development and tests only: in-memory storage,
// dev interaction pages (any login, any password), keys generated at start-up.
//
// What it registers:
// - client `hashgate-spa` (public: token_endpoint_auth_method none) for the implicit flow,
//   response types `id_token token` and `id_token`, redirect URIs {spa}/callback and
//   {spa}/silent-callback.html (silent renewal: this provider has no web_message), post-logout
//   redirect {spa}/;
// - one API (resource indicator = --audience) with scopes read:messages write:messages whose
//   access tokens are RS256 JWTs with aud = the audience.
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

const configuration = {
  clients: [
    {
      client_id: clientId,
      client_name: 'Hashgate',
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['implicit'],
      response_types: ['id_token token', 'id_token'],
      redirect_uris: [`${spaOrigin}/callback`, `${spaOrigin}/silent-callback.html`],
      post_logout_redirect_uris: [`${spaOrigin}/`],
    },
  ],
  responseTypes: ['id_token token', 'id_token'],
  scopes: ['openid', 'profile', 'email'],
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
  clientBasedCORS(ctx, origin) {
    return origin === spaOrigin;
  },
  extraParams: ['audience'],
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
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
