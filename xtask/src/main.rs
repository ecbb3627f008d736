//! Maintainer tasks. Run from anywhere in the workspace:
//!
//! ```text
//! cargo xtask codegen [--spec PATH] [--out FILE]   print (or write) the generated client
//! cargo xtask diff [--spec PATH | --base REV | --fixture NAME] [--format markdown]
//!                  [--changelog] [--code]           the change report of a spec change
//! cargo xtask consumer [--fixture NAME]            a downstream crate against every fixture
//! cargo xtask check [--skip-validators]            validators + generated-code snapshot is current
//! cargo xtask validate [--spec PATH]               only the two spec validators (both specs)
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

mod report;

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
        "diff" => diff(&root, &rest),
        "consumer" => consumer(&root, &rest),
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
  diff [--spec PATH | --base REV | --fixture NAME] [--format markdown] [--changelog] [--code]
                                      the change report: each wire change, breaking or
                                      not, and the semver bump of sophic-client and sophic;
                                      --spec: openapi/orders.yaml -> PATH; --base: REV's
                                      spec -> the working tree's (default: before the last
                                      commit that changed it, or HEAD's when it has
                                      uncommitted edits); --fixture: one of
                                      xtask/fixtures applied to the spec; --code: the
                                      generated-code diff after the report. Exit 1 when
                                      anything is breaking
  consumer [--fixture NAME]           compile tests/consumer, unchanged, against the client
                                      of every fixture (or of one): it must compile for
                                      each change below major, and break for each marked
                                      consumer: breaks; exit 1 otherwise
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

/// The downstream crate that must compile unchanged against every non-major change.
const CONSUMER: &str = "sophic-consumer";

/// `cargo xtask consumer`: checks `tests/consumer`, unchanged, against the client generated
/// from each fixture (decision 0015): it must compile for each change below major, and
/// break for a major change marked `"consumer": "breaks"`.
///
/// Each check runs in a workspace of its own under `target/consumer` (the codegen, the
/// client and the consumer, copied, with the fixture's spec), so the real workspace's build
/// is not disturbed. A fixture that asks the workspace for a decision (a new status) carries
/// it as `decisions`, edits of the copied client: the consumer must compile once the
/// workspace does.
fn consumer(root: &Path, rest: &[String]) -> Result<ExitCode> {
    let dir = root.join("xtask/fixtures");
    let mut names: Vec<String> = match flag(rest, "--fixture") {
        Some(one) => vec![one],
        None => std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
            .collect(),
    };
    names.sort();
    let work = root.join("target/consumer");
    let spec_text = std::fs::read_to_string(root.join("openapi/orders.yaml"))?;
    let mut failed = Vec::new();
    let mut checked = 0;
    for name in &names {
        let path = dir.join(format!("{name}.json"));
        let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let Some(bump) = fixture["expect"]["sophic-client"].as_str() else {
            bail!("{name}: the fixture has no expect.sophic-client bump");
        };
        // A major change may break the consumer; one marked `"consumer": "breaks"` must
        // (so the check is seen to fail), the others are reported.
        let must_break = match fixture["consumer"].as_str() {
            Some("breaks") => true,
            None => false,
            Some(other) => bail!("{name}: consumer is \"breaks\" or absent, not {other:?}"),
        };
        if must_break && bump != "major" {
            bail!("{name}: a change below major must not break the consumer");
        }
        let mut spec: serde_json::Value = serde_yaml::from_str(&spec_text)?;
        let patch = fixture["patch"].as_array().cloned().unwrap_or_default();
        report::apply_patch(&mut spec, &patch).map_err(anyhow::Error::msg)?;
        let ws = work.join("workspace");
        consumer_workspace(root, &ws, &serde_yaml::to_string(&spec)?)?;
        let decisions = fixture["decisions"]["edits"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for edit in &decisions {
            let (Some(file), Some(from), Some(to)) = (
                edit["file"].as_str(),
                edit["replace"].as_str(),
                edit["with"].as_str(),
            ) else {
                bail!("{name}: a decision needs file, replace and with");
            };
            let count = edit["count"].as_u64().unwrap_or(1) as usize;
            let target = ws.join(file);
            let text = std::fs::read_to_string(&target)
                .with_context(|| format!("{name}: cannot read {file}"))?;
            let found = text.matches(from).count();
            if found != count {
                bail!(
                    "{name}: its decision no longer applies to {file}: {from:?} is there {found} times, not {count}"
                );
            }
            std::fs::write(&target, text.replace(from, to))?;
        }
        let checked_out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&ws)
            .args([
                "check",
                "--quiet",
                "--offline",
                "-p",
                CONSUMER,
                "--target-dir",
            ])
            .arg(work.join("target"))
            .output()
            .context("cannot run cargo")?;
        let compiles = checked_out.status.success();
        let verdict = match (bump == "major", must_break, compiles) {
            (false, _, true) => "compiles unchanged, as a non-major change must",
            (false, _, false) => "does NOT compile: the report's verdict is wrong",
            (true, true, false) => "breaks, as this major change must",
            (true, true, true) => "compiles: this major change was expected to break it",
            (true, false, false) => "breaks (a major change)",
            (true, false, true) => "compiles (it does not use what this major change touches)",
        };
        let decided = match decisions.len() {
            0 => String::new(),
            n => format!(", {n} decision edits"),
        };
        println!("consumer: {name} (sophic-client {bump}{decided}): {verdict}");
        checked += 1;
        if (bump != "major" && !compiles) || (must_break && compiles) {
            // The compiler's words only where the outcome was not the expected one.
            eprint!("{}", String::from_utf8_lossy(&checked_out.stderr));
            failed.push(name.clone());
        }
    }
    if checked == 0 {
        bail!("no fixture to check");
    }
    if failed.is_empty() {
        println!("consumer: all {checked} fixtures as expected");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "consumer: {} of {checked} not as expected: {}",
            failed.len(),
            failed.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}

/// The crates a consumer check copies: the codegen, the client and the consumer.
const CONSUMER_CRATES: [&str; 3] = [
    "crates/sophic-codegen",
    "crates/sophic-client",
    "tests/consumer",
];

/// Writes at `ws` a workspace of [`CONSUMER_CRATES`] (their sources copied afresh) whose
/// spec is `spec`, with the real workspace's manifest (its members narrowed) and lock file.
fn consumer_workspace(root: &Path, ws: &Path, spec: &str) -> Result<()> {
    fn copy(from: &Path, to: &Path) -> Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == "target" || name == "snapshots" {
                continue;
            }
            if entry.file_type()?.is_dir() {
                copy(&entry.path(), &to.join(&name))?;
            } else {
                std::fs::copy(entry.path(), to.join(&name))?;
            }
        }
        Ok(())
    }
    if ws.exists() {
        std::fs::remove_dir_all(ws).with_context(|| format!("cannot clear {}", ws.display()))?;
    }
    for krate in CONSUMER_CRATES {
        copy(&root.join(krate), &ws.join(krate)).with_context(|| format!("cannot copy {krate}"))?;
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let (head, tail) = manifest
        .split_once("members = [")
        .and_then(|(head, rest)| Some((head, rest.split_once(']')?.1)))
        .context("the workspace manifest has no members list")?;
    let members: Vec<String> = CONSUMER_CRATES.iter().map(|c| format!("\"{c}\"")).collect();
    // The workspace's own crates not copied are not dependencies here either.
    let tail: String = tail
        .lines()
        .filter(|line| {
            !line.contains("path = \"crates/")
                || CONSUMER_CRATES
                    .iter()
                    .any(|c| line.contains(&format!("path = \"{c}\"")))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(
        ws.join("Cargo.toml"),
        format!("{head}members = [{}]{tail}", members.join(", ")),
    )?;
    std::fs::copy(root.join("Cargo.lock"), ws.join("Cargo.lock"))?;
    std::fs::create_dir_all(ws.join("openapi"))?;
    std::fs::write(ws.join("openapi/orders.yaml"), spec)?;
    Ok(())
}

/// The two specs a `diff` compares, as YAML text, with names for people.
fn diff_inputs(root: &Path, rest: &[String]) -> Result<((String, String), (String, String))> {
    let working = root.join("openapi/orders.yaml");
    let read = |p: &Path| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    if let Some(candidate) = flag(rest, "--spec") {
        return Ok((
            ("openapi/orders.yaml".into(), read(&working)?),
            (candidate.clone(), read(Path::new(&candidate))?),
        ));
    }
    if let Some(name) = flag(rest, "--fixture") {
        let path = root.join("xtask/fixtures").join(format!("{name}.json"));
        let fixture: serde_json::Value = serde_json::from_str(&read(&path)?)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let old_text = read(&working)?;
        let mut new: serde_json::Value = serde_yaml::from_str(&old_text)?;
        let patch = fixture["patch"].as_array().cloned().unwrap_or_default();
        report::apply_patch(&mut new, &patch).map_err(anyhow::Error::msg)?;
        return Ok((
            ("openapi/orders.yaml".into(), old_text),
            (format!("fixture {name}"), serde_yaml::to_string(&new)?),
        ));
    }
    let git = |args: &[&str]| -> Result<String> {
        let out = Command::new("git")
            .args(args)
            .output()
            .context("cannot run git")?;
        if !out.status.success() {
            bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    };
    let base = match flag(rest, "--base") {
        Some(rev) => rev,
        None => {
            let edited = !git(&["status", "--porcelain", "--", "openapi/orders.yaml"])?
                .trim()
                .is_empty();
            if edited {
                "HEAD".to_string()
            } else {
                let last = git(&["log", "-1", "--format=%H", "--", "openapi/orders.yaml"])?;
                format!("{}^", last.trim())
            }
        }
    };
    let old = git(&["show", &format!("{base}:openapi/orders.yaml")])?;
    Ok((
        (format!("{base}:openapi/orders.yaml"), old),
        ("openapi/orders.yaml".into(), read(&working)?),
    ))
}

fn diff(root: &Path, rest: &[String]) -> Result<ExitCode> {
    let ((old_name, old_text), (new_name, new_text)) = diff_inputs(root, rest)?;
    let old: serde_json::Value =
        serde_yaml::from_str(&old_text).with_context(|| format!("{old_name} is not YAML"))?;
    let new: serde_json::Value =
        serde_yaml::from_str(&new_text).with_context(|| format!("{new_name} is not YAML"))?;
    // The old spec may predate today's codegen; the wire report does not need its code.
    let old_code = sophic_codegen::generate(&old_text);
    if let Err(e) = &old_code {
        println!("({old_name} does not generate with today's codegen: {e})");
    }
    let old_code = old_code.ok();
    let new_code = sophic_codegen::generate(&new_text)
        .with_context(|| format!("{new_name} does not generate"))?;
    let changes = report::compare(&old, &new);
    let markdown = flag(rest, "--format").as_deref() == Some("markdown");
    println!("change report: {old_name} -> {new_name}");
    let code_changed = old_code.as_deref() != Some(new_code.as_str());
    print!("{}", report::render(&changes, code_changed, markdown));
    if rest.iter().any(|a| a == "--changelog") {
        println!(
            "
CHANGELOG.md entry:

{}",
            report::changelog(&changes)
        );
    }
    if let Some(old_code) = old_code.as_deref().filter(|_| code_changed) {
        let diff = similar::TextDiff::from_lines(old_code, &new_code);
        let (added, removed) = diff
            .iter_all_changes()
            .fold((0, 0), |(a, r), c| match c.tag() {
                similar::ChangeTag::Insert => (a + 1, r),
                similar::ChangeTag::Delete => (a, r + 1),
                similar::ChangeTag::Equal => (a, r),
            });
        println!(
            "
generated client: +{added} -{removed} lines (`--code` shows them)"
        );
        if rest.iter().any(|a| a == "--code") {
            print_diff(old_code, &new_code, &old_name, &new_name);
        }
    } else if old_code.is_some() {
        println!(
            "
generated client: unchanged"
        );
    } else {
        println!(
            "
generated client: no comparison (the old spec does not generate)"
        );
    }
    Ok(if changes.iter().any(|c| c.breaking) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
