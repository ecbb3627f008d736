//! Maintainer tasks. Run from anywhere in the workspace:
//!
//! ```text
//! cargo xtask codegen [--spec PATH] [--out FILE]   print (or write) the generated client
//! cargo xtask diff --spec PATH                     what a changed spec would change in the client
//! cargo xtask check [--skip-validators]            validators + generated-code snapshot is current
//! cargo xtask validate [--spec PATH]               only the two spec validators (both specs)
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

/// The sandbox's control endpoints, validated beside orders.yaml.
const SANDBOX_SPEC: &str = "openapi/sandbox.yaml";

/// The committed snapshot of the whole generated client (an insta snapshot).
const GENERATED_SNAPSHOT: &str =
    "crates/sophic-client/tests/snapshots/generated_source__generated_client_source.snap";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode> {
    let root = workspace_root();
    std::env::set_current_dir(&root).context("cannot enter the workspace root")?;
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let spec =
        flag(&rest, "--spec").map_or_else(|| root.join("openapi/orders.yaml"), PathBuf::from);
    match task.as_str() {
        "codegen" => codegen(&spec, flag(&rest, "--out").map(PathBuf::from)),
        "diff" => diff(&root.join("openapi/orders.yaml"), &spec),
        "check" => check(&spec, rest.iter().any(|a| a == "--skip-validators")),
        "validate" => match flag(&rest, "--spec") {
            Some(one) => validate(Path::new(&one)),
            None => validate_all(&root),
        },
        _ => {
            eprintln!("{}", USAGE);
            Ok(ExitCode::from(if task.is_empty() || task == "help" {
                0
            } else {
                2
            }))
        }
    }
}

const USAGE: &str = "\
usage: cargo xtask <task>

  codegen [--spec PATH] [--out FILE]  print the generated client (or write it to FILE)
  diff --spec PATH                    show how the client would change with another spec
  check [--skip-validators]           run both spec validators and check that the
                                      generated-code snapshot matches the spec
  validate [--spec PATH]              run openapi-spec-validator and redocly lint
                                      (on orders.yaml and sandbox.yaml by default)";

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn generate(spec: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(spec).with_context(|| format!("cannot read {}", spec.display()))?;
    sophic_codegen::generate(&text).map_err(Into::into)
}

fn codegen(spec: &Path, out: Option<PathBuf>) -> Result<ExitCode> {
    let source = generate(spec)?;
    match out {
        Some(out) => {
            std::fs::write(&out, &source)
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("wrote {} ({} lines)", out.display(), source.lines().count());
        }
        None => print!("{source}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn diff(current: &Path, candidate: &Path) -> Result<ExitCode> {
    let old = generate(current)?;
    let new = generate(candidate)?;
    if old == new {
        println!("no change to the generated client");
        return Ok(ExitCode::SUCCESS);
    }
    print_diff(
        &old,
        &new,
        "generated from openapi/orders.yaml",
        &candidate.display().to_string(),
    );
    Ok(ExitCode::from(1))
}

fn check(spec: &Path, skip_validators: bool) -> Result<ExitCode> {
    let mut ok = true;
    if !skip_validators {
        ok &= validate(spec)? == ExitCode::SUCCESS;
        ok &= validate(Path::new(SANDBOX_SPEC))? == ExitCode::SUCCESS;
    }
    let generated = generate(spec)?;
    let snapshot = std::fs::read_to_string(GENERATED_SNAPSHOT)
        .with_context(|| format!("cannot read {GENERATED_SNAPSHOT}"))?;
    let committed = snapshot_body(&snapshot);
    if committed.trim_end() == generated.trim_end() {
        println!(
            "generated client: snapshot is current ({} lines)",
            generated.lines().count()
        );
    } else {
        ok = false;
        println!("generated client: the snapshot is out of date; the spec now generates:");
        print_diff(committed, &generated, GENERATED_SNAPSHOT, "generated now");
        println!(
            "review with `cargo insta test -p sophic-client --review` (or `cargo insta review`)"
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The content of an insta snapshot file: everything after its `---` front matter.
fn snapshot_body(snapshot: &str) -> &str {
    snapshot
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .map_or(snapshot, |(_, body)| body)
}

fn print_diff(old: &str, new: &str, old_name: &str, new_name: &str) {
    let diff = similar::TextDiff::from_lines(old.trim_end(), new.trim_end());
    print!(
        "{}",
        diff.unified_diff()
            .context_radius(3)
            .header(old_name, new_name)
    );
}

fn validate(spec: &Path) -> Result<ExitCode> {
    let spec_arg = spec.display().to_string();
    let python_validator = if Path::new(".venv/bin/openapi-spec-validator").exists() {
        ".venv/bin/openapi-spec-validator".to_string()
    } else {
        "openapi-spec-validator".to_string()
    };
    let mut ok = true;
    ok &= tool(
        "openapi-spec-validator",
        Command::new(python_validator).arg(&spec_arg),
    )?;
    ok &= tool(
        "redocly lint",
        Command::new("npx")
            .args(["--no-install", "redocly", "lint", "--format=stylish"])
            .arg(&spec_arg),
    )?;
    if ok {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

fn validate_all(root: &Path) -> Result<ExitCode> {
    let orders = validate(&root.join("openapi/orders.yaml"))?;
    let sandbox = validate(&root.join(SANDBOX_SPEC))?;
    Ok(
        if orders == ExitCode::SUCCESS && sandbox == ExitCode::SUCCESS {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

fn tool(name: &str, command: &mut Command) -> Result<bool> {
    println!("== {name}");
    let status = command.status().with_context(|| {
        format!("cannot run {name}; install the tools with `bash .ci/install-tools`")
    })?;
    if !status.success() {
        println!("{name}: FAILED ({status})");
    }
    if status.code().is_none() {
        bail!("{name} was killed");
    }
    Ok(status.success())
}
