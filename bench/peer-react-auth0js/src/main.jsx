// The peer of Hashgate's demo for `cargo xtask bench`: the same routes (home, profile,
// external API, callback) with React, react-router and auth0-js's implicit grant
// (`authorize` + `parseHash`, silent renewal with `checkSession`). Written as a typical
// auth0-js quickstart would be, so its bundle is a fair size peer.
import { createContext, useContext, useEffect, useState, StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Link, Route, Routes, useNavigate } from "react-router-dom";
import auth0 from "auth0-js";

const AuthContext = createContext(null);
const useAuth = () => useContext(AuthContext);

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
      <p>React + react-router + auth0-js, implicit grant.</p>
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

fetch("/auth_config.json")
  .then((response) => response.json())
  .then((config) =>
    createRoot(document.getElementById("root")).render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  );
