//! The identity provider the login measurements run against: `hashgate-idp` (release) with
//! its shipped config (`idp/hashgate-idp.toml`), the demo app's callbacks moved to the
//! bench's port and consent skipped (a first-party app).
//!
//! The edit goes through the typed [`hashgate_idp::Config`]: the shipped file is read and
//! validated by the provider's own loader, the new values are computed on its typed fields,
//! written into the file's TOML tree (everything else stays as shipped), and the result is
//! loaded again and must hold exactly those values. No text is searched or replaced.

use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
};

use hashgate_idp::{ClientConfig, Config};
use toml::{Table, Value};
use url::Url;

use xtask::{
    cmd,
    process::{free_port, Server},
};

use crate::{Result, TaskError};

use super::servers::{release_bin, write};

/// The demo app's `client_id`, in the shipped config and in `public/auth_config.json`.
pub const CLIENT_ID: &str = "hashgate-spa";

/// The port of `cargo xtask dev`'s app, which the shipped callbacks name.
const DEV_APP_PORT: u16 = 8080;

/// The grants the login round trip uses (`idp/README.md`): the implicit grant, and the code
/// flow with rotating refresh tokens, on the one client.
const LOGIN_GRANTS: [&str; 3] = ["implicit", "authorization_code", "refresh_token"];

/// A running `hashgate-idp`, stopped when dropped.
#[derive(Debug)]
pub struct Idp {
    /// The process.
    pub server: Server,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Its issuer URL, ending with `/`.
    pub issuer: String,
}

/// Starts the release `hashgate-idp` with the shipped config moved to the app on
/// `app_port`, its data in `scratch`, and the issuer `http://<issuer_host>:<port>/`.
pub fn start(scratch: &Path, app_port: u16, issuer_host: &str) -> Result<Idp> {
    let shipped_path = cmd::root().join("idp/hashgate-idp.toml");
    let shipped = fs::read_to_string(&shipped_path).map_err(|source| TaskError::Io {
        path: shipped_path.clone(),
        source,
    })?;
    let config_path = scratch.join("idp.toml");
    write(
        &config_path,
        &config_for(&shipped, &shipped_path, app_port)?,
    )?;
    let port = free_port()?;
    let issuer = format!("http://{issuer_host}:{port}/");
    let mut server = Server::spawn(
        "hashgate-idp",
        Command::new(release_bin("hashgate-idp"))
            .args(["--issuer", &issuer])
            .args(["--port", &port.to_string()])
            .arg("--config")
            .arg(&config_path)
            .arg("--data-dir")
            .arg(scratch.join("idp-data"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    )?;
    server.wait_for_port(port)?;
    Ok(Idp {
        server,
        port,
        issuer,
    })
}

/// The shipped config `shipped` (read from `shipped_path`) as TOML for a bench run: the
/// [`CLIENT_ID`] client's URLs on port 8080 moved to `app_port`, its consent skipped, and the
/// rules directories made absolute, so that the file can live in a scratch directory.
pub fn config_for(shipped: &str, shipped_path: &Path, app_port: u16) -> Result<String> {
    // The provider's own loader: validates, and anchors relative rules directories.
    let config = Config::from_toml_str(shipped, shipped_path)?;
    let client = config.client(CLIENT_ID).ok_or_else(|| {
        TaskError::Missing(format!(
            "{} has no client `{CLIENT_ID}` (the app's clientId) for the bench to log in with",
            shipped_path.display()
        ))
    })?;
    if let Some(grant) = LOGIN_GRANTS.iter().find(|grant| !client.allows(grant)) {
        return Err(TaskError::Missing(format!(
            "{}: client `{CLIENT_ID}` does not list `{grant}` in `grant_types`; the bench logs \
             in with both flows ({})",
            shipped_path.display(),
            LOGIN_GRANTS.join(", ")
        ))
        .into());
    }
    let wanted = moved_client(client, app_port).ok_or_else(|| {
        TaskError::Missing(format!(
            "{}: client `{CLIENT_ID}` has no callback on port {DEV_APP_PORT} to move to the \
             bench's port",
            shipped_path.display()
        ))
    })?;

    let mut tree: Table = toml::from_str(shipped).map_err(|source| TaskError::Toml {
        path: shipped_path.to_path_buf(),
        source,
    })?;
    set_client(&mut tree, &wanted).ok_or_else(|| {
        TaskError::Missing(format!(
            "{}: `[[clients]]` is not an array of tables with a `{CLIENT_ID}` entry",
            shipped_path.display()
        ))
    })?;
    if let Some(dir) = &config.rules_dir {
        tree.insert("rules_dir".to_owned(), path_value(dir));
    }
    if let Some(dir) = &config.rules.actions_dir {
        if let Some(Value::Table(rules)) = tree.get_mut("rules") {
            rules.insert("actions_dir".to_owned(), path_value(dir));
        }
    }
    let text = toml::to_string(&tree).map_err(|error| {
        TaskError::Missing(format!("the bench's idp config cannot be written: {error}"))
    })?;

    // What the provider will read must be exactly what was meant.
    let written = Config::from_toml_str(&text, shipped_path)?;
    let same = written.client(CLIENT_ID).is_some_and(|client| {
        client.callbacks == wanted.callbacks
            && client.web_origins == wanted.web_origins
            && client.allowed_logout_urls == wanted.allowed_logout_urls
            && client.skip_consent
    }) && written.rules_dir == config.rules_dir
        && written.rules.actions_dir == config.rules.actions_dir;
    if !same {
        return Err(TaskError::Missing(format!(
            "the bench's copy of {} does not load as the edited config",
            shipped_path.display()
        ))
        .into());
    }
    Ok(text)
}

/// `client` with every URL on port 8080 moved to `app_port` and consent skipped; `None`
/// unless a callback ends up on `app_port` (the shipped file changed shape).
fn moved_client(client: &ClientConfig, app_port: u16) -> Option<ClientConfig> {
    let mut moved = client.clone();
    let move_all = |urls: &mut Vec<Url>| -> Option<()> {
        for url in urls {
            if url.port_or_known_default() == Some(DEV_APP_PORT) {
                url.set_port(Some(app_port)).ok()?;
            }
        }
        Some(())
    };
    move_all(&mut moved.callbacks)?;
    move_all(&mut moved.web_origins)?;
    move_all(&mut moved.allowed_logout_urls)?;
    moved.skip_consent = true;
    moved
        .callbacks
        .iter()
        .any(|url| url.port() == Some(app_port) && url.path() == "/callback")
        .then_some(moved)
}

/// Writes `client`'s URLs and consent flag into its `[[clients]]` table of `tree`.
fn set_client(tree: &mut Table, client: &ClientConfig) -> Option<()> {
    let Value::Array(clients) = tree.get_mut("clients")? else {
        return None;
    };
    let table = clients.iter_mut().find_map(|entry| match entry {
        Value::Table(table)
            if table.get("client_id").and_then(Value::as_str) == Some(&client.client_id) =>
        {
            Some(table)
        }
        _ => None,
    })?;
    let urls = |urls: &[Url], show: fn(&Url) -> String| {
        Value::Array(urls.iter().map(|url| Value::String(show(url))).collect())
    };
    table.insert(
        "callbacks".to_owned(),
        urls(&client.callbacks, |url| url.as_str().to_owned()),
    );
    // Origins are written as origins (no trailing slash), as the shipped file has them.
    table.insert(
        "web_origins".to_owned(),
        urls(&client.web_origins, |url| {
            url.origin().ascii_serialization()
        }),
    );
    table.insert(
        "allowed_logout_urls".to_owned(),
        urls(&client.allowed_logout_urls, |url| url.as_str().to_owned()),
    );
    table.insert(
        "skip_consent".to_owned(),
        Value::Boolean(client.skip_consent),
    );
    Some(())
}

fn path_value(path: &Path) -> Value {
    Value::String(path.to_string_lossy().into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn shipped() -> (String, std::path::PathBuf) {
        let path = cmd::root().join("idp/hashgate-idp.toml");
        (fs::read_to_string(&path).unwrap(), path)
    }

    // README.md, Benchmarks: every app logs in against the same `hashgate-idp`, with its
    // shipped config moved to the bench's ports; what the provider loads is checked typed.
    #[test]
    fn the_shipped_idp_config_is_moved_to_the_bench_port_without_consent() {
        let (text, path) = shipped();
        let config = config_for(&text, &path, 18_123).unwrap();
        let loaded = Config::from_toml_str(&config, "/scratch/idp.toml").unwrap();
        let client = loaded.client(CLIENT_ID).unwrap();
        let callbacks: Vec<&str> = client.callbacks.iter().map(Url::as_str).collect();
        assert!(
            callbacks.contains(&"http://localhost:18123/callback"),
            "{callbacks:?}"
        );
        assert!(
            callbacks.contains(&"http://127.0.0.1:18123/callback"),
            "{callbacks:?}"
        );
        assert!(client
            .web_origins
            .iter()
            .any(|origin| origin.as_str() == "http://localhost:18123/"));
        assert!(!config.contains("localhost:8080"), "{config}");
        assert!(client.skip_consent);
        // The rules directory is the shipped one, absolute, wherever the copy is written.
        assert_eq!(loaded.rules_dir, Some(cmd::root().join("idp/rules")));
        // Everything else is as shipped: the users, their permissions, the APIs.
        let original = Config::from_toml_str(&text, &path).unwrap();
        assert_eq!(loaded.users.len(), original.users.len());
        assert_eq!(
            loaded.users[0].permissions, original.users[0].permissions,
            "permissions kept"
        );
        assert_eq!(loaded.apis.len(), original.apis.len());
    }

    // A config the bench cannot log in with is refused with a reason, before any server runs.
    #[test]
    fn a_config_without_the_app_or_its_dev_callbacks_is_refused() {
        let (text, path) = shipped();
        let error = config_for("skip_consent = true", &path, 18_123).unwrap_err();
        assert!(error.to_string().contains("skip_consent"), "{error}");

        let no_app = text.replace("client_id = \"hashgate-spa\"", "client_id = \"other\"");
        let error = config_for(&no_app, &path, 18_123).unwrap_err();
        assert!(
            error.to_string().contains("no client `hashgate-spa`"),
            "{error}"
        );

        // The code flow's grants: without them the code-flow runs could only fail.
        let implicit_only = text
            .replace(
                "grant_types = [\"implicit\", \"authorization_code\", \"refresh_token\"]",
                "grant_types = [\"implicit\"]",
            )
            .replace(
                "\nrefresh_token_rotation = true\n",
                "\nrefresh_token_rotation = false\n",
            );
        assert_ne!(
            implicit_only, text,
            "the shipped grants are where this test expects"
        );
        let error = config_for(&implicit_only, &path, 18_123).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("does not list `authorization_code` in `grant_types`"),
            "{error}"
        );

        let elsewhere = text.replace(":8080", ":9090");
        let error = config_for(&elsewhere, &path, 18_123).unwrap_err();
        assert!(
            error.to_string().contains("no callback on port 8080"),
            "{error}"
        );
    }
}
