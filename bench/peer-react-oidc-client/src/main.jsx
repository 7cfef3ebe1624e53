// The second size peer of Hashgate's demo for `cargo xtask bench`: the same routes (home,
// profile, external API, callback) with React, react-router and oidc-client 1.x, the
// classic OpenID Connect library for the implicit grant (`id_token token`, signature and
// at_hash checked against the provider's JWKS, silent renewal in an iframe). Written as
// its documentation shows, so its bundle is a fair size peer.
import { createContext, useContext, useEffect, useState, StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Link, Route, Routes, useNavigate } from "react-router-dom";
import { UserManager } from "oidc-client";

const AuthContext = createContext(null);
const useAuth = () => useContext(AuthContext);

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
  };
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

function Nav() {
  const auth = useAuth();
  return (
    <nav>
      <Link to="/">Home</Link> <Link to="/profile">Profile</Link> <Link to="/external-api">External API</Link>{" "}
      {auth.status === "authenticated" ? (
        <button onClick={auth.logout}>Log out</button>
      ) : (
        <button onClick={() => auth.login(window.location.pathname)}>Log in</button>
      )}
    </nav>
  );
}

function Home() {
  const auth = useAuth();
  return (
    <main>
      <h1>Hashgate peer</h1>
      <p>React + react-router + oidc-client, implicit grant.</p>
      {auth.error && <p role="alert">{auth.error}</p>}
    </main>
  );
}

function RequireAuth({ children }) {
  const auth = useAuth();
  useEffect(() => {
    if (auth.status === "anonymous") auth.login(window.location.pathname + window.location.search);
  }, [auth.status]);
  return auth.status === "authenticated" ? children : <p>Loading…</p>;
}

function Profile() {
  const { user } = useAuth();
  return (
    <main>
      <h1>Profile</h1>
      {user.picture && <img src={user.picture} alt="" width="64" height="64" />}
      <p>{user.name}</p>
      <p>{user.email}</p>
      <pre>{JSON.stringify(user, null, 2)}</pre>
    </main>
  );
}

function ExternalApi() {
  const { accessToken, apiOrigin } = useAuth();
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const call = async (path, init = {}) => {
    setError(null);
    try {
      const response = await fetch(apiOrigin + path, {
        ...init,
        headers: { ...init.headers, Authorization: `Bearer ${accessToken}`, "Content-Type": "application/json" },
      });
      if (!response.ok) throw new Error(`the API answered ${response.status}`);
      setResult(await response.json());
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <main>
      <h1>External API</h1>
      <button onClick={() => call("/api/private")}>Ping private</button>
      <button onClick={() => call("/api/messages")}>Read messages</button>
      <button onClick={() => call("/api/messages", { method: "POST", body: JSON.stringify({ text: "hello" }) })}>
        Post a message
      </button>
      {error && <p role="alert">{error}</p>}
      {result && <pre>{JSON.stringify(result, null, 2)}</pre>}
    </main>
  );
}

function Callback() {
  const auth = useAuth();
  const navigate = useNavigate();
  useEffect(() => {
    auth.handleCallback((to) => navigate(to, { replace: true }));
  }, []);
  return <p>Signing in…</p>;
}

function App({ config }) {
  return (
    <AuthProvider config={config}>
      <BrowserRouter>
        <AuthState />
        <Nav />
        <Routes>
          <Route path="/" element={<Home />} />
          <Route path="/profile" element={<RequireAuth><Profile /></RequireAuth>} />
          <Route path="/external-api" element={<RequireAuth><ExternalApi /></RequireAuth>} />
          <Route path="/callback" element={<Callback />} />
        </Routes>
      </BrowserRouter>
    </AuthProvider>
  );
}

// The same hook the benchmark reads on Hashgate: `data-auth-state` on <body>.
function AuthState() {
  const { status } = useAuth();
  useEffect(() => {
    document.body.dataset.authState = status;
  }, [status]);
  return null;
}

if (window.location.pathname === "/silent-callback.html") {
  // The hidden iframe of a silent renewal: hand the response to the parent window.
  new UserManager({ response_type: "id_token token" }).signinSilentCallback();
} else fetch("/auth_config.json")
  .then((response) => response.json())
  .then((config) =>
    createRoot(document.getElementById("root")).render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  );
