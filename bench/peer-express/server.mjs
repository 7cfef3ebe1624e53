// hashgate-api's /api/public and /api/private in Express 5 with Auth0's official
// middleware, express-oauth2-jwt-bearer, for `cargo xtask bench`. Same answers, same
// issuer and JWKS (fetched once and cached by the middleware), on 127.0.0.1.
//
//   node server.mjs <port> <issuer> <audience>
import express from "express";
import { auth } from "express-oauth2-jwt-bearer";

const port = Number(process.argv[2] || 4101);
const issuer = process.argv[3] || "http://127.0.0.1:4100/";
const audience = process.argv[4] || "https://api.hashgate.local";

const app = express();
app.disable("x-powered-by");
const checkJwt = auth({
  issuer,
  jwksUri: `${issuer}.well-known/jwks.json`,
  audience,
  tokenSigningAlg: "RS256",
});

app.get("/api/public", (_request, response) => {
  response.json({ message: "Hello from a public endpoint! You don't need to be authenticated to see this." });
});

app.get("/api/private", checkJwt, (request, response) => {
  response.json({
    message: "Hello from a private endpoint! You need to be authenticated to see this.",
    sub: request.auth.payload.sub,
  });
});

app.listen(port, "127.0.0.1", () => console.log("ready"));
