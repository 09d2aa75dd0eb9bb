//! Property tests in place of a fuzzer (cargo-fuzz needs a nightly toolchain, which this
//! project does not use): arbitrary and mutated policy documents and rules never panic the
//! parser, and stay within the size and nesting bounds that keep it from hanging or eating
//! memory. The corpus in `tests/fuzz-corpus` (small, hand-picked hostile inputs) runs first.

use elevator::policy::rules::{Moment, Rule};
use elevator::policy::{DEMO_POLICY, Policy};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/fuzz-corpus/proptest-regressions.txt",
        ))),
        ..ProptestConfig::default()
    }
}

#[test]
fn the_corpus_is_refused_or_accepted_without_panicking() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let mut seen = 0;
    for entry in std::fs::read_dir(&corpus).expect("the corpus directory") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let outcome = Policy::parse(&text, 1);
        if path.ends_with("demo.yaml") || path.ends_with("rules.yaml") {
            assert!(outcome.is_ok(), "{}: {:?}", path.display(), outcome.err());
        }
        if path.ends_with("rule-bombs.yaml") {
            let problems = outcome.expect_err("every rule there is refused").0;
            assert_eq!(problems.len(), 4, "{problems:?}");
        }
        seen += 1;
    }
    assert!(seen >= 5, "the corpus has its files");
}

/// Pieces rules are made of, good and bad.
fn rule_token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("token.delegatedBy".to_owned()),
        Just("token.sub".to_owned()),
        Just("token.groups".to_owned()),
        Just("request.duration".to_owned()),
        Just("grant.expires_at".to_owned()),
        Just("risk.score".to_owned()),
        Just("risk.flags".to_owned()),
        Just("context.time".to_owned()),
        Just("context.now".to_owned()),
        Just("nobody.knows".to_owned()),
        Just("null".to_owned()),
        Just("2h".to_owned()),
        Just("1h30m".to_owned()),
        Just("99999999999999d".to_owned()),
        Just("70".to_owned()),
        Just("'vpn'".to_owned()),
        Just("\"unterminated".to_owned()),
        Just("&&".to_owned()),
        Just("||".to_owned()),
        Just("!".to_owned()),
        Just("==".to_owned()),
        Just("<".to_owned()),
        Just("in".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(".exists(f, f == 'vpn')".to_owned()),
        Just(".size()".to_owned()),
        Just("duration('5m')".to_owned()),
        "\\PC{0,6}",
    ]
}

fn rule_text() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("allow if "),
            Just("deny if "),
            Just("allow  if"),
            Just("")
        ],
        prop::collection::vec(rule_token(), 0..40),
    )
        .prop_map(|(prefix, tokens)| format!("{prefix}{}", tokens.join(" ")))
}

/// The demo policy with lines dropped, repeated, swapped and scribbled on.
fn mutated_policy() -> impl Strategy<Value = String> {
    let lines: Vec<String> = DEMO_POLICY.lines().map(str::to_owned).collect();
    let count = lines.len();
    prop::collection::vec((0..count, 0u8..5, "\\PC{0,12}"), 0..12).prop_map(move |edits| {
        let mut mutated = lines.clone();
        for (at, kind, scribble) in edits {
            let at = at % mutated.len().max(1);
            match kind {
                0 if !mutated.is_empty() => {
                    mutated.remove(at);
                }
                1 => {
                    let line = mutated.get(at).cloned().unwrap_or_default();
                    mutated.insert(at, line);
                }
                2 if mutated.len() > 1 => {
                    let next = (at + 1) % mutated.len();
                    mutated.swap(at, next);
                }
                3 => mutated.insert(at, scribble),
                _ => {
                    if let Some(line) = mutated.get_mut(at) {
                        line.push_str(&scribble);
                    }
                }
            }
        }
        mutated.join("\n")
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics_the_policy_parser(text in "\\PC{0,400}") {
        let _ = Policy::parse(&text, 1);
    }

    #[test]
    fn mutated_policies_are_accepted_or_refused_with_places(document in mutated_policy()) {
        if let Err(problems) = Policy::parse(&document, 1) {
            prop_assert!(!problems.0.is_empty());
            prop_assert!(problems.0.iter().all(|p| !p.path.is_empty() && !p.message.is_empty()));
        }
    }

    #[test]
    fn arbitrary_rules_never_panic_and_refusals_have_a_place(text in rule_text()) {
        for moment in [Moment::Request, Moment::Grant] {
            if let Err(error) = Rule::parse(&text, moment) {
                prop_assert!(error.line >= 1 && error.column >= 1, "{error:?} for {text:?}");
            }
        }
    }
}
