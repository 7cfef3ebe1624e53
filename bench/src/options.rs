//! What `cargo xtask bench` was asked for: its flags, parsed by clap (see `main.rs`).

/// The flags of `cargo xtask bench`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Options {
    /// Build `dist/`, `hashgate-api` and `hashgate-idp` first (false with `--no-build`).
    #[arg(
        long = "no-build",
        action = clap::ArgAction::SetFalse,
        help = "Reuse dist/ and target/release/ instead of building them"
    )]
    pub build: bool,
    /// Seconds per wrk run and per phase of the /authorize flood (1 to 120).
    #[arg(
        long = "duration",
        value_name = "S",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=120)
    )]
    pub duration_secs: u64,
    /// Login round trips per app in headless Chromium (0 to 200; 0 skips the browser part).
    #[arg(
        long = "login-runs",
        value_name = "N",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(0..=200)
    )]
    pub login_runs: u32,
    /// Only these parts (none: all). A partial run prints its tables and writes no results.
    #[arg(long = "only", value_name = "PART", value_delimiter = ',', value_enum)]
    pub only: Vec<Part>,
}

/// A part of the bench, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// Transfer size.
    Size,
    /// API throughput (wrk and the DPoP load generator).
    Api,
    /// `GET /authorize` under a flood.
    Flood,
    /// Login round trips in headless Chromium, with their step tables.
    Login,
    /// Reload to signed-in in headless Chromium.
    Reload,
}

impl Options {
    /// Whether `part` runs: every part unless `--only` names others.
    pub fn wants(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            build: true,
            duration_secs: 10,
            login_runs: 20,
            only: Vec::new(),
        }
    }
}
