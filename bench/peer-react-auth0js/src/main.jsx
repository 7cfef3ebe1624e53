// The peer of Hashgate's demo for `cargo xtask bench`: the same routes (home, profile,
// external API, callback) with React, react-router and auth0-js's implicit grant
// (`authorize` + `parseHash`, silent renewal with `checkSession`). Written as a typical
// auth0-js quickstart would be, so its bundle is a fair size peer.
import { useEffect, useState } from "react";
import { AuthContext, mount } from "../../peer-pages/pages.jsx";
import auth0 from "auth0-js";

// auth0-js builds `https://` + domain unless the domain starts with `http`, so a local
// http issuer is passed whole; issuer and JWKS location are the provider's own.
function domainOf(issuer) {
  return issuer.startsWith("https://") ? new URL(issuer).host : issuer.replace(/\/$/, "");
}

function AuthProvider({ config, children }) {
  const [state, setState] = useState({ status: "loading", user: null, accessToken: null, error: null });
  const [webAuth] = useState(
    () =>
      new auth0.WebAuth({
        domain: domainOf(config.issuer),
        overrides: { __token_issuer: config.issuer, __jwks_uri: `${config.issuer}.well-known/jwks.json` },
        clientID: config.clientId,
        audience: config.audience,
        scope: config.scope,
        responseType: "token id_token",
        redirectUri: window.location.origin + "/callback",
      }),
  );

  const accept = (result) =>
    setState({ status: "authenticated", user: result.idTokenPayload, accessToken: result.accessToken, error: null });

  useEffect(() => {
    if (window.location.pathname === "/callback") return;
    webAuth.checkSession({}, (err, result) => {
      if (err || !result) setState({ status: "anonymous", user: null, accessToken: null, error: null });
      else accept(result);
    });
  }, [webAuth]);

  const value = {
    ...state,
    login: (returnTo) => {
      sessionStorage.setItem("returnTo", returnTo || "/");
      webAuth.authorize();
    },
    logout: () => webAuth.logout({ returnTo: window.location.origin + "/" }),
    handleCallback: (done) =>
      webAuth.parseHash({ hash: window.location.hash }, (err, result) => {
        if (err || !result) {
          setState({ status: "anonymous", user: null, accessToken: null, error: err?.errorDescription || err?.error || "login failed" });
          done("/");
        } else {
          accept(result);
          const back = sessionStorage.getItem("returnTo") || "/";
          sessionStorage.removeItem("returnTo");
          done(back.startsWith("/") && !back.startsWith("//") ? back : "/");
        }
      }),
    apiOrigin: config.apiOrigin,
    library: "auth0-js",
  };
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

mount(AuthProvider);
