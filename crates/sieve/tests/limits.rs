//! Every bound of `Limits` stops a run with an error value, quickly, never a panic.

mod common;

use std::time::{Duration, Instant};

use certmail_sieve::{Error, Limit, Limits, compile};
use common::{Store, eval_with};

const MSG: &str = "From: a@example.org\nTo: me@example.com\nSubject: hello\n\nbody\n";

fn limit_of(result: Result<certmail_sieve::Outcome, Error>) -> Limit {
    match result {
        Err(Error::LimitExceeded { limit, .. }) => limit,
        other => panic!("expected a limit, got {other:?}"),
    }
}

fn run(script: &str, limits: &Limits) -> Result<certmail_sieve::Outcome, Error> {
    eval_with(script, MSG, &Store::default(), limits)
}

#[test]
fn script_size_and_nesting() {
    let limits = Limits {
        max_script_bytes: 100,
        ..Limits::default()
    };
    let long = "keep;".repeat(50);
    assert_eq!(limit_of(run(&long, &limits)), Limit::ScriptSize);
    let deep = "if true {".repeat(40) + &"}".repeat(40);
    assert_eq!(limit_of(run(&deep, &Limits::default())), Limit::Nesting);
    let deep_tests = format!("if {} true {{ }}", "not ".repeat(10_000));
    assert_eq!(
        limit_of(run(&deep_tests, &Limits::default())),
        Limit::Nesting
    );
}

/// A doubling variable would take gigabytes; it stops at `max_variable_bytes`.
#[test]
fn variables_that_blow_up_are_stopped() {
    let script = "require \"variables\"; set \"a\" \"xxxxxxxxxxxxxxxx\";".to_owned()
        + &"set \"a\" \"${a}${a}\";".repeat(40);
    assert_eq!(
        limit_of(run(&script, &Limits::default())),
        Limit::VariableSize
    );
    let many: String = (0..300).map(|i| format!("set \"v{i}\" \"x\";")).collect();
    let script = format!("require \"variables\"; {many}");
    assert_eq!(limit_of(run(&script, &Limits::default())), Limit::Variables);
}

/// The step budget stops scripts that do too much work: pathological `:matches` patterns
/// on large values, and long chains of tests.
#[test]
fn step_budget_stops_expensive_scripts() {
    let started = Instant::now();
    let script = "require \"variables\"; set \"a\" \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\";".to_owned()
        + &"set \"a\" \"${a}${a}\";".repeat(9)
        + "if string :matches \"${a}\" \"*"
        + &"a".repeat(200)
        + "b\" { discard; }";
    assert_eq!(limit_of(run(&script, &Limits::default())), Limit::Steps);
    let tests = format!(
        "if anyof({}) {{ discard; }}",
        vec!["header :contains \"subject\" \"zzz\""; 5000].join(",")
    );
    let limits = Limits {
        max_steps: 1000,
        max_nesting: 4,
        ..Limits::default()
    };
    assert_eq!(limit_of(run(&tests, &limits)), Limit::Steps);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn actions_and_redirects_are_bounded() {
    let files: String = (0..100).map(|i| format!("fileinto \"f{i}\";")).collect();
    let script = format!("require \"fileinto\"; {files}");
    assert_eq!(limit_of(run(&script, &Limits::default())), Limit::Actions);
    let redirects: String = (0..10)
        .map(|i| format!("redirect \"r{i}@example.org\";"))
        .collect();
    assert_eq!(
        limit_of(run(&redirects, &Limits::default())),
        Limit::Redirects
    );
}

#[test]
fn regex_size_is_bounded() {
    let limits = Limits {
        max_regex_bytes: 10_000,
        ..Limits::default()
    };
    let script = "require \"regex\"; if header :regex \"subject\" \"(a|b|c){1000}\" { keep; }";
    assert!(matches!(
        compile(script, &limits),
        Err(Error::LimitExceeded {
            limit: Limit::RegexSize,
            ..
        })
    ));
}

/// The defaults are documented values; a test pins them so a change is deliberate.
#[test]
fn default_limits() {
    let l = Limits::default();
    assert_eq!(l.max_script_bytes, 256 * 1024);
    assert_eq!(l.max_nesting, 32);
    assert_eq!(l.max_steps, 1_000_000);
    assert_eq!(l.max_actions, 64);
    assert_eq!(l.max_redirects, 4);
    assert_eq!(l.max_include_depth, 4);
}

/// Header lookups are charged by the number of fields scanned: many tests on a message
/// with very many fields run out of budget instead of running long.
#[test]
fn header_scans_are_charged() {
    let headers: String = (0..20_000).map(|i| format!("X-H{i}: v\n")).collect();
    let message = format!("{headers}Subject: x\n\nbody\n");
    let tests = vec!["exists \"x-none\""; 2000].join(", ");
    let script = format!("if anyof({tests}) {{ discard; }}");
    let started = Instant::now();
    let result = eval_with(&script, &message, &Store::default(), &Limits::default());
    assert_eq!(limit_of(result), Limit::Steps);
    assert!(started.elapsed() < Duration::from_secs(10));
}
