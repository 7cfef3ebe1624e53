// A fake OIDC issuer for `cargo xtask bench`: serves a discovery document and a JWKS with
// one fresh RSA key on 127.0.0.1:<port>, and prints one RS256 access token (1 h, the
// given audience, scope read:messages) on stdout as `token <jwt>`, then `ready`.
// Both API servers validate that same token against this same JWKS.
//
// With a third argument, a DPoP key's JWK thumbprint, it also prints the same token bound to
// that key (`cnf.jkt`, RFC 9449 §6.1) as `dpop-token <jwt>`, for hashgate-api's DPoP row.
//
//   node issuer.mjs <port> <audience> [jkt]
import { createServer } from "node:http";
import { generateKeyPairSync, sign } from "node:crypto";

const port = Number(process.argv[2] || 4100);
const audience = process.argv[3] || "https://api.hashgate.local";
const issuer = `http://127.0.0.1:${port}/`;
const kid = "bench-key-1";

const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: "jwk" }), kid, use: "sig", alg: "RS256" };

const b64url = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const header = b64url({ alg: "RS256", typ: "at+jwt", kid });
const payload = b64url({
  iss: issuer,
  sub: "bench|alice",
  aud: [audience, `${issuer}userinfo`],
  azp: "hashgate-spa",
  iat: now,
  exp: now + 3600,
  scope: "openid profile email read:messages",
});
const signature = sign("RSA-SHA256", Buffer.from(`${header}.${payload}`), privateKey).toString("base64url");
const jkt = process.argv[4];
const bound = jkt
  ? (() => {
      const claims = { ...JSON.parse(Buffer.from(payload, "base64url")), cnf: { jkt } };
      const body = b64url(claims);
      return `${header}.${body}.${sign("RSA-SHA256", Buffer.from(`${header}.${body}`), privateKey).toString("base64url")}`;
    })()
  : null;

const discovery = {
  issuer,
  authorization_endpoint: `${issuer}authorize`,
  jwks_uri: `${issuer}.well-known/jwks.json`,
  response_types_supported: ["id_token token", "id_token"],
  subject_types_supported: ["public"],
  id_token_signing_alg_values_supported: ["RS256"],
};

createServer((request, response) => {
  const body =
    request.url === "/.well-known/openid-configuration"
      ? discovery
      : request.url === "/.well-known/jwks.json"
        ? { keys: [jwk] }
        : null;
  response.writeHead(body ? 200 : 404, { "content-type": "application/json" });
  response.end(JSON.stringify(body ?? { error: "not_found" }));
}).listen(port, "127.0.0.1", () => {
  console.log(`token ${header}.${payload}.${signature}`);
  if (bound) console.log(`dpop-token ${bound}`);
  console.log("ready");
});
