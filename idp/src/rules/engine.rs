//! Running one rule or Action in QuickJS (through `rquickjs`), sandboxed.
//!
//! Every run gets a fresh runtime and context, so nothing leaks from one login or one
//! rule to the next. The runtime has a memory cap (`set_memory_limit`), a small
//! native stack, and an interrupt handler that stops the script once its deadline
//! passes, even inside `while (true) {}`. No module loader is installed and
//! QuickJS's `std`/`os` modules are not compiled in, so a script has no file system,
//! network, process or timer access: only the globals the prelude defines.
//!
//! Everything crossing the boundary is JSON text, parsed on the other side.

use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::{Context, Ctx, Function, Object, Runtime, Value};
use serde_json::{Map, Value as Json};

/// The harness evaluated before every script (globals, outcome recording).
const PRELUDE: &str = include_str!("prelude.js");

/// Native stack QuickJS may use; deep recursion ends in a `RangeError` well before
/// the blocking thread's own stack (2 MiB) is at risk.
const MAX_STACK_BYTES: usize = 512 * 1024;

/// Whether a file is an Auth0 Rule or an Auth0 Action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `function (user, context, callback) { ... }`
    Rule,
    /// `exports.onExecutePostLogin = async (event, api) => { ... }`
    Action,
}

/// A loaded script.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    /// The file as shown in logs and errors, e.g. `idp/rules/10-add-roles.js`.
    pub name: String,
    /// The file's text.
    pub source: String,
    /// Rule or Action.
    pub kind: Kind,
}

/// Limits applied to each run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Wall-clock time for one script.
    pub timeout: Duration,
    /// Memory cap for the engine.
    pub memory_bytes: usize,
}

/// What one script decided.
#[derive(Debug)]
pub(crate) enum Step {
    /// A rule called `callback(null, user, context)`: the (possibly changed) objects.
    Rule {
        /// The `user` passed on.
        user: Json,
        /// The `context` passed on.
        context: Json,
    },
    /// An Action finished: the claims it set.
    Action {
        /// `api.idToken.setCustomClaim` calls.
        id_token: Map<String, Json>,
        /// `api.accessToken.setCustomClaim` calls.
        access_token: Map<String, Json>,
    },
    /// `UnauthorizedError` or `api.access.deny`: the message for the app.
    Deny(String),
    /// Anything else: a thrown error, a timeout, the memory cap. For the log only.
    Failed(String),
}

/// A script that does not compile, with the 1-based line QuickJS reported.
#[derive(Debug)]
pub(crate) struct CompileError {
    /// Line of the error, when QuickJS names one.
    pub line: Option<u32>,
    /// QuickJS's message, e.g. `SyntaxError: unexpected token in expression: '}'`.
    pub message: String,
}

impl Script {
    /// The text QuickJS evaluates. Wrapping keeps line numbers: the opening part
    /// shares the file's first line and the closing part sits on a new last line.
    fn wrapped(&self) -> String {
        match self.kind {
            // Auth0 rules are a bare (often anonymous) function: as a statement that
            // is a syntax error, as an expression it is the value we call.
            Kind::Rule => {
                let body = self.source.trim_end().trim_end_matches(';');
                format!("({body}\n)")
            }
            // CommonJS style, so `exports.x = ...` and helpers stay local to the file.
            Kind::Action => format!(
                "(function (exports, module, require) {{{}\n}})",
                self.source
            ),
        }
    }
}

fn eval_options(filename: &str) -> EvalOptions {
    let mut options = EvalOptions::default();
    options.global = true;
    // Auth0 runs rules as ordinary (sloppy-mode) Node.js code.
    options.strict = false;
    options.filename = Some(filename.to_owned());
    options
}

fn new_runtime(limits: &Limits, deadline: Instant) -> Result<(Runtime, Context), String> {
    let rt = Runtime::new().map_err(|e| format!("cannot start the javascript engine: {e}"))?;
    rt.set_memory_limit(limits.memory_bytes);
    rt.set_max_stack_size(MAX_STACK_BYTES);
    rt.set_interrupt_handler(Some(Box::new(move || Instant::now() >= deadline)));
    let ctx = Context::full(&rt).map_err(|e| format!("cannot start the javascript engine: {e}"))?;
    Ok((rt, ctx))
}

/// The pending exception (or the error itself) as text: `Name: message` plus the
/// first stack frame's `file:line`, when there is one.
fn describe(ctx: &Ctx<'_>, err: &rquickjs::Error) -> (String, Option<String>) {
    if !matches!(err, rquickjs::Error::Exception) {
        return (err.to_string(), None);
    }
    let value = ctx.catch();
    if let Some(ex) = value.as_exception() {
        let name: Option<String> = ex.get("name").ok();
        let message = ex.message().unwrap_or_default();
        let text = match name {
            Some(n) if !n.is_empty() => format!("{n}: {message}"),
            _ => message,
        };
        (text, ex.stack())
    } else if let Some(s) = value.as_string().and_then(|s| s.to_string().ok()) {
        (s, None)
    } else {
        (
            format!("a non-error value was thrown ({})", value.type_name()),
            None,
        )
    }
}

/// The line of the first stack frame in `file`, from a QuickJS stack such as
/// `    at idp/rules/10-x.js:3:9`.
fn line_in(stack: &str, file: &str) -> Option<u32> {
    let needle = format!("{file}:");
    stack.lines().find_map(|l| {
        let at = l.find(&needle)? + needle.len();
        let digits: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

/// Compiles `script` without running any of its code (evaluating the wrapped text
/// only creates a function). Checks that a rule is a function.
pub(crate) fn check(script: &Script, limits: &Limits) -> Result<(), CompileError> {
    let deadline = Instant::now() + limits.timeout;
    let (_rt, context) = new_runtime(limits, deadline).map_err(|message| CompileError {
        line: None,
        message,
    })?;
    context.with(|ctx| {
        match ctx.eval_with_options::<Value, _>(script.wrapped(), eval_options(&script.name)) {
            Ok(v) if v.is_function() => Ok(()),
            Ok(_) => Err(CompileError {
                line: None,
                message: "a rule must be one function (user, context, callback) { ... }".into(),
            }),
            Err(e) => {
                let (message, stack) = describe(&ctx, &e);
                Err(CompileError {
                    line: stack.as_deref().and_then(|s| line_in(s, &script.name)),
                    message,
                })
            }
        }
    })
}

/// The arguments of one run, as JSON text.
pub(crate) enum Input<'a> {
    /// A rule's `user` and `context`.
    Rule {
        /// `user`
        user: &'a str,
        /// `context`
        context: &'a str,
    },
    /// An Action's `event`.
    Action {
        /// `event`
        event: &'a str,
    },
}

/// Runs `script` to its outcome, within the limits. Never panics on script input.
pub(crate) fn run(script: &Script, limits: &Limits, configuration: &str, input: Input<'_>) -> Step {
    let deadline = Instant::now() + limits.timeout;
    let (_rt, context) = match new_runtime(limits, deadline) {
        Ok(x) => x,
        Err(e) => return Step::Failed(e),
    };
    let timed_out = || Instant::now() >= deadline;
    context.with(|ctx| {
        let fail = |e: rquickjs::Error| {
            if timed_out() {
                return Step::Failed(format!("timed out after {} ms", limits.timeout.as_millis()));
            }
            let (text, stack) = describe(&ctx, &e);
            match stack.as_deref().and_then(|s| line_in(s, &script.name)) {
                Some(line) => Step::Failed(format!("line {line}: {text}")),
                None => Step::Failed(text),
            }
        };
        let outcome = match start(&ctx, script, configuration, input) {
            Ok(f) => f,
            Err(e) => return fail(e),
        };
        // Promises (async rules and Actions) advance only when we run their jobs.
        loop {
            match outcome.call::<_, Value>(()) {
                Ok(v) if v.is_object() => return read_outcome(&v, &script.name),
                Ok(_) => {}
                Err(e) => return fail(e),
            }
            if timed_out() {
                return Step::Failed(format!("timed out after {} ms", limits.timeout.as_millis()));
            }
            if !ctx.execute_pending_job() {
                return Step::Failed(match script.kind {
                    Kind::Rule => "the rule ended without calling callback".into(),
                    Kind::Action => "onExecutePostLogin never finished".into(),
                });
            }
        }
    })
}

/// Sets up the globals, compiles the script and calls it; returns the harness's
/// `outcome()` function.
fn start<'js>(
    ctx: &Ctx<'js>,
    script: &Script,
    configuration: &str,
    input: Input<'_>,
) -> rquickjs::Result<Function<'js>> {
    let name = script.name.clone();
    let log = Function::new(ctx.clone(), move |message: String| {
        tracing::debug!(rule = %name, "console: {message}");
    })?;
    let prelude: Function =
        ctx.eval_with_options(PRELUDE, eval_options("<hashgate-idp prelude>"))?;
    let configuration = ctx.json_parse(configuration)?;
    let harness: Object = prelude.call((log, configuration))?;
    let code: Value = ctx.eval_with_options(script.wrapped(), eval_options(&script.name))?;
    match input {
        Input::Rule { user, context } => {
            let run: Function = harness.get("runRule")?;
            run.call::<_, ()>((code, ctx.json_parse(user)?, ctx.json_parse(context)?))?;
        }
        Input::Action { event } => {
            let run: Function = harness.get("runAction")?;
            run.call::<_, ()>((code, ctx.json_parse(event)?))?;
        }
    }
    harness.get("outcome")
}

fn read_outcome(v: &Value<'_>, file: &str) -> Step {
    let Some(o) = v.as_object() else {
        return Step::Failed("no outcome".into());
    };
    let text = |key: &str| o.get::<_, Option<String>>(key).ok().flatten();
    let json = |key: &str| -> Result<Json, String> {
        let t = text(key).ok_or_else(|| format!("no {key} passed on"))?;
        serde_json::from_str(&t).map_err(|e| format!("{key} is not json: {e}"))
    };
    let object = |key: &str| -> Result<Map<String, Json>, String> {
        match json(key)? {
            Json::Object(m) => Ok(m),
            _ => Err(format!("{key} is not an object")),
        }
    };
    match text("kind").as_deref() {
        Some("ok") if text("user").is_some() => match (json("user"), json("context")) {
            (Ok(user), Ok(context)) => Step::Rule { user, context },
            (Err(e), _) | (_, Err(e)) => Step::Failed(e),
        },
        Some("ok") => match (object("idToken"), object("accessToken")) {
            (Ok(id_token), Ok(access_token)) => Step::Action {
                id_token,
                access_token,
            },
            (Err(e), _) | (_, Err(e)) => Step::Failed(e),
        },
        Some("deny") => Step::Deny(text("message").unwrap_or_default()),
        Some("error") => {
            let message = text("message").unwrap_or_default();
            match text("stack").as_deref().and_then(|s| line_in(s, file)) {
                Some(line) => Step::Failed(format!("line {line}: {message}")),
                None => Step::Failed(message),
            }
        }
        _ => Step::Failed("unknown outcome".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            timeout: Duration::from_millis(500),
            memory_bytes: 16 * 1024 * 1024,
        }
    }

    fn rule(source: &str) -> Script {
        Script {
            name: "rules/10-test.js".into(),
            source: source.into(),
            kind: Kind::Rule,
        }
    }

    fn run_rule(source: &str) -> Step {
        run(
            &rule(source),
            &limits(),
            "{}",
            Input::Rule {
                user: r#"{"email":"a@example.com"}"#,
                context: r#"{"idToken":{}}"#,
            },
        )
    }

    #[test]
    fn a_syntax_error_reports_its_line() {
        let err = check(
            &rule("function (user, context, callback) {\n  var x = ;\n  callback(null, user, context);\n}"),
            &limits(),
        )
        .unwrap_err();
        assert_eq!(err.line, Some(2), "{err:?}");
        assert!(err.message.starts_with("SyntaxError"), "{err:?}");
    }

    #[test]
    fn a_rule_can_add_a_claim() {
        let step = run_rule(
            "function (user, context, callback) {\n context.idToken['https://x/y'] = user.email;\n callback(null, user, context);\n};\n",
        );
        let Step::Rule { context, .. } = step else {
            panic!("{step:?}")
        };
        assert_eq!(context["idToken"]["https://x/y"], "a@example.com");
    }

    #[test]
    fn an_endless_loop_is_interrupted_at_the_deadline() {
        let started = Instant::now();
        let step = run_rule("function (u, c, cb) { while (true) {} }");
        assert!(
            matches!(&step, Step::Failed(r) if r.contains("timed out")),
            "{step:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn unbounded_allocation_ends_with_an_error() {
        let step = run_rule(
            "function (u, c, cb) { const a = []; while (true) a.push(new Array(100000).fill(1)); }",
        );
        assert!(
            matches!(&step, Step::Failed(r) if r.contains("out of memory")),
            "{step:?}"
        );
    }

    #[test]
    fn modules_are_not_available() {
        for src in [
            "function (u, c, cb) { require('fs'); }",
            "function (u, c, cb) { import('fs').then(() => cb(null, u, c), cb); }",
            "function (u, c, cb) { import('os').then(() => cb(null, u, c), cb); }",
        ] {
            assert!(matches!(run_rule(src), Step::Failed(_)), "{src}");
        }
    }

    #[test]
    fn deep_recursion_is_a_range_error_not_a_crash() {
        let step = run_rule("function f(u, c, cb) { return f(u, c, cb); }");
        assert!(
            matches!(&step, Step::Failed(r) if r.contains("RangeError")),
            "{step:?}"
        );
    }

    #[test]
    fn an_unauthorized_error_from_an_async_rule_is_a_denial() {
        let step = run_rule(
            "async function (u, c, cb) { await null; cb(new UnauthorizedError('nope')); }",
        );
        assert!(matches!(&step, Step::Deny(m) if m == "nope"), "{step:?}");
    }

    #[test]
    fn only_the_first_callback_counts() {
        let step =
            run_rule("function (u, c, cb) { cb(new UnauthorizedError('first')); cb(null, u, c); }");
        assert!(matches!(&step, Step::Deny(m) if m == "first"), "{step:?}");
    }

    #[test]
    fn a_runtime_error_names_its_line() {
        let step = run_rule("function (u, c, cb) {\n\n  u.a.b.c = 1;\n}");
        assert!(
            matches!(&step, Step::Failed(r) if r.starts_with("line 3: TypeError")),
            "{step:?}"
        );
    }
}
