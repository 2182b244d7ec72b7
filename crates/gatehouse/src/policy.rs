//! `gatehouse policy …`: policy files on the command line — `check` (validate with located errors
//! and warnings), `simulate` (DESIGN 4.5) and `import --from okta`. The work is done by
//! `gatehouse_policy`; this module reads files, prints, and chooses the exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use gatehouse_policy::simulate::{Simulation, decision_output, decision_text};
use gatehouse_policy::{Diagnostic, Format, PolicyError, PolicySet, Severity, check_text};

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate a policy file (YAML or JSON): prints every error and warning as
    /// FILE:LINE:COLUMN; exits 2 on any error, 0 when there are only warnings.
    Check {
        /// The policy file (`.json` is read as JSON, anything else as YAML).
        file: PathBuf,
    },
    /// Evaluate an app's authentication policy against a context file and print the decision
    /// (allow, deny, continue with options, remediate) with its trace. Exits 0 for any decision,
    /// 2 when the policy or the context is invalid.
    Simulate {
        /// The policy file.
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// The client id of the app whose authentication policy is evaluated.
        #[arg(long, value_name = "CLIENT_ID")]
        app: String,
        /// The context file (JSON): user, ip, device, risk, enrollments, records, now, step_up.
        #[arg(long, value_name = "FILE")]
        context: PathBuf,
        /// Print one JSON object (decision, rule, options / remediation / message, trace)
        /// instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validate a policy file and write it into the database: zones and policies are created or
    /// replaced by name, and the apps a policy names are pointed at it. Exits 2 (printing
    /// FILE:LINE:COLUMN errors) when the file is not valid; nothing is written then.
    Apply {
        /// The policy file (`.json` is read as JSON, anything else as YAML).
        file: PathBuf,
        /// `postgres://…` for PostgreSQL; otherwise a SQLite file.
        #[arg(long, default_value = "./gatehouse.db", env = "GATEHOUSE_DATABASE_URL")]
        database_url: String,
    },
    /// Translate another product's policy into a Gatehouse policy file. What cannot be
    /// translated is reported on stderr (and as comments in the output).
    Import {
        /// The format of FILE.
        #[arg(long, value_enum)]
        from: ImportFormat,
        /// The policy to import (Okta: an ACCESS_POLICY JSON object with its rules).
        file: PathBuf,
        /// Write the YAML here instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ImportFormat {
    /// Okta's app sign-in policy (`ACCESS_POLICY`) with its rules, as the Okta API returns them.
    Okta,
}

const INVALID: u8 = 2;

pub fn run(args: PolicyArgs) -> ExitCode {
    match args.command {
        PolicyCommand::Check { file } => check(&file),
        PolicyCommand::Apply { file, database_url } => apply(&file, &database_url),
        PolicyCommand::Simulate {
            policy,
            app,
            context,
            json,
        } => simulate(&policy, &app, &context, json),
        PolicyCommand::Import { from, file, output } => import(from, &file, output.as_deref()),
    }
}

fn eprint(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

fn read(path: &Path) -> Result<String, ExitCode> {
    std::fs::read_to_string(path).map_err(|e| {
        eprint(&format!("error: cannot read `{}`: {e}", path.display()));
        ExitCode::from(INVALID)
    })
}

/// `FILE:LINE:COLUMN: error: message (at path)`.
fn render(file: &Path, d: &Diagnostic) -> String {
    let place = match d.location {
        Some(l) => format!("{}:{}:{}", file.display(), l.line, l.column),
        None => file.display().to_string(),
    };
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let at = if d.path.is_empty() {
        String::new()
    } else {
        format!(" (at {})", d.path)
    };
    format!("{place}: {severity}: {}{at}", d.message)
}

fn format_of(path: &Path, text: &str) -> Format {
    Format::detect(path.file_name().and_then(|n| n.to_str()), text)
}

fn check(file: &Path) -> ExitCode {
    let text = match read(file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let report = check_text(&text, format_of(file, &text));
    let mut out = std::io::stdout().lock();
    for d in &report.diagnostics {
        let _ = writeln!(out, "{}", render(file, d));
    }
    let errors = report.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = report.diagnostics.len() - errors;
    if errors > 0 {
        let _ = writeln!(
            out,
            "{}: {errors} error(s), {warnings} warning(s)",
            file.display()
        );
        return ExitCode::from(INVALID);
    }
    let (policies, rules) = report.document.as_ref().map_or((0, 0), |d| {
        (
            d.authentication_policies.len(),
            d.authentication_policies
                .iter()
                .map(|p| p.rules.len())
                .sum::<usize>(),
        )
    });
    let _ = writeln!(
        out,
        "{}: ok — {policies} authentication polic{}, {rules} rule(s), {warnings} warning(s)",
        file.display(),
        if policies == 1 { "y" } else { "ies" }
    );
    ExitCode::SUCCESS
}

fn simulate(policy_file: &Path, app: &str, context_file: &Path, json: bool) -> ExitCode {
    let policy_text = match read(policy_file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let report = check_text(&policy_text, format_of(policy_file, &policy_text));
    let Some(document) = report.valid_document() else {
        for d in report.diagnostics.iter().filter(|d| d.is_error()) {
            eprint(&render(policy_file, d));
        }
        eprint(&format!(
            "error: the policy file `{}` is not valid",
            policy_file.display()
        ));
        return ExitCode::from(INVALID);
    };
    let set = match PolicySet::compile(document) {
        Ok(set) => set,
        Err(e) => {
            eprint(&format!("error: {e}"));
            return ExitCode::from(INVALID);
        }
    };
    let Some(policy) = set.policy_for_app(app) else {
        eprint(&format!("error: {}", PolicyError::UnknownApp(app.to_owned())));
        return ExitCode::from(INVALID);
    };
    let context_text = match read(context_file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let simulation = match Simulation::parse(&context_text) {
        Ok(s) => s,
        Err(PolicyError::Parse(d)) => {
            eprint(&render(context_file, &d));
            return ExitCode::from(INVALID);
        }
        Err(e) => {
            eprint(&format!("{}: error: {e}", context_file.display()));
            return ExitCode::from(INVALID);
        }
    };
    let decision = simulation.run(policy);
    let mut out = std::io::stdout().lock();
    let _ = if json {
        let value = decision_output(&decision);
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        )
    } else {
        write!(out, "{}", decision_text(&decision, policy.name(), app))
    };
    ExitCode::SUCCESS
}

fn import(from: ImportFormat, file: &Path, output: Option<&Path>) -> ExitCode {
    let text = match read(file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let imported = match from {
        ImportFormat::Okta => gatehouse_policy::okta::import_okta(&text),
    };
    let imported = match imported {
        Ok(i) => i,
        Err(e) => {
            eprint(&format!("{}: error: {e}", file.display()));
            return ExitCode::from(INVALID);
        }
    };
    for note in &imported.notes {
        eprint(&format!("{}: not translated: {note}", file.display()));
    }
    let yaml = match gatehouse_policy::okta::to_yaml(&imported) {
        Ok(y) => y,
        Err(e) => {
            eprint(&format!("error: {e}"));
            return ExitCode::from(INVALID);
        }
    };
    for d in gatehouse_policy::validate::validate_document(&imported.document)
        .iter()
        .filter(|d| d.is_error())
    {
        eprint(&format!("imported policy: error: {d}"));
    }
    match output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, yaml) {
                eprint(&format!("error: cannot write `{}`: {e}", path.display()));
                return ExitCode::from(INVALID);
            }
        }
        None => {
            let _ = std::io::stdout().lock().write_all(yaml.as_bytes());
        }
    }
    ExitCode::SUCCESS
}

fn apply(file: &Path, database_url: &str) -> ExitCode {
    let text = match read(file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let report = check_text(&text, format_of(file, &text));
    for d in &report.diagnostics {
        eprint(&render(file, d));
    }
    let Some(document) = report.valid_document() else {
        eprint(&format!(
            "error: the policy file `{}` is not valid; nothing was written",
            file.display()
        ));
        return ExitCode::from(INVALID);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprint(&format!("error: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let store = gatehouse_store::Store::connect(database_url).await?;
        let mut tx = store.begin().await?;
        let now = jiff::Timestamp::now();
        let report =
            gatehouse_server::directory::apply(&mut tx, document, &gatehouse_core::model::Actor::System, now)
                .await?;
        tx.commit().await?;
        // Running nodes on PostgreSQL reload the policies at once (else within seconds).
        store.announce(gatehouse_store::Change::Policies).await?;
        store.close().await;
        Ok::<_, gatehouse_server::ServerError>(report)
    });
    match result {
        Ok(report) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{}: applied — {} zone(s), {} polic{}, {} rule(s)",
                file.display(),
                report.zones,
                report.policies,
                if report.policies == 1 { "y" } else { "ies" },
                report.rules
            );
            for app in &report.unknown_apps {
                eprint(&format!(
                    "warning: no app has client_id `{app}`; nothing was linked for it"
                ));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint(&format!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}
