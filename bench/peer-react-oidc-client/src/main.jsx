// The second size peer of Hashgate's demo for `cargo xtask bench`: the same routes (home,
// profile, external API, callback) with React, react-router and oidc-client 1.x, the
// classic OpenID Connect library for the implicit grant (`id_token token`, signature and
// at_hash checked against the provider's JWKS, silent renewal in an iframe). Written as
// its documentation shows, so its bundle is a fair size peer.
import { useEffect, useState } from "react";
import { AuthContext, mount } from "../../peer-pages/pages.jsx";
import { UserManager } from "oidc-client";

function userManager(config) {
  const origin = window.location.origin;
  return new UserManager({
    authority: config.issuer,
    client_id: config.clientId,
    redirect_uri: origin + "/callback",
    silent_redirect_uri: origin + "/silent-callback.html",
    post_logout_redirect_uri: origin + "/",
    response_type: "id_token token",
    scope: config.scope,
    extraQueryParams: { audience: config.audience },
    loadUserInfo: false,
    automaticSilentRenew: true,
  });
}

function AuthProvider({ config, children }) {
  const [state, setState] = useState({ status: "loading", user: null, accessToken: null, error: null });
  const [manager] = useState(() => userManager(config));

  const accept = (user) =>
    setState({ status: "authenticated", user: user.profile, accessToken: user.access_token, error: null });
  const anonymous = (error = null) => setState({ status: "anonymous", user: null, accessToken: null, error });

  useEffect(() => {
    if (window.location.pathname === "/callback") return;
    manager
      .getUser()
      .then((user) => (user && !user.expired ? user : manager.signinSilent()))
      .then(accept, () => anonymous());
  }, [manager]);

  const value = {
    ...state,
    login: (returnTo) => manager.signinRedirect({ state: returnTo || "/" }),
    logout: () => manager.signoutRedirect(),
    handleCallback: (done) =>
      manager.signinRedirectCallback().then(
        (user) => {
          accept(user);
          const back = typeof user.state === "string" ? user.state : "/";
          done(back.startsWith("/") && !back.startsWith("//") ? back : "/");
        },
        (err) => {
          anonymous(err?.message || "login failed");
          done("/");
        },
      ),
    apiOrigin: config.apiOrigin,
    library: "oidc-client",
  };
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

if (window.location.pathname === "/silent-callback.html") {
  // The hidden iframe of a silent renewal: hand the response to the parent window.
  new UserManager({ response_type: "id_token token" }).signinSilentCallback();
} else {
  mount(AuthProvider);
}
