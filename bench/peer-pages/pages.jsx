// The pages both React peers of `cargo xtask bench` share (home, profile, external API,
// callback, the route guard and `data-auth-state`), so the peers differ only in their auth
// library. Each peer's `src/main.jsx` supplies an `AuthProvider` that puts
// { status, user, accessToken, error, login, logout, handleCallback, apiOrigin, library }
// into `AuthContext`. Bundled into each peer by its build.mjs (react resolved from the peer).
import { createContext, useContext, useEffect, useState, StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Link, Route, Routes, BrowserRouter, useNavigate } from "react-router-dom";

export const AuthContext = createContext(null);
const useAuth = () => useContext(AuthContext);

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
      <p>React + react-router + {auth.library}, implicit grant.</p>
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

function App({ config, AuthProvider }) {
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

// Loads /auth_config.json and renders the app with the peer's AuthProvider.
export function mount(AuthProvider) {
  fetch("/auth_config.json")
    .then((response) => response.json())
    .then((config) =>
      createRoot(document.getElementById("root")).render(
        <StrictMode>
          <App config={config} AuthProvider={AuthProvider} />
        </StrictMode>,
      ),
    );
}
