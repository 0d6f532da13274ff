//! `gradscope gradcheck`: every fused op's backward pass against finite
//! differences, one line per case.

use gradscope::{Activation, Cell};

use crate::helpers;

#[test]
fn every_fused_op_passes_with_one_line_per_case() {
    let out = helpers::run_gradscope(&["gradcheck", "--seed", "3"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cases: Vec<String> = Activation::ALL.iter().map(|a| format!("mlp-{a}")).collect();
    cases.push("mlp-relu-residual".into());
    cases.extend(Cell::ALL.iter().map(|c| c.to_string()));
    for case in &cases {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(case.as_str()))
            .unwrap_or_else(|| panic!("no line for {case}:\n{stdout}"));
        assert!(line.ends_with("PASS"), "{line}");
        // The worst error is printed, and well inside f32's tolerance.
        let error: f64 = line
            .split("worst relative error ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|e| e.parse().ok())
            .unwrap_or_else(|| panic!("no error figure in {line}"));
        assert!(error < 1e-2, "{line}");
    }
    assert!(
        stdout.contains(&format!("all {} cases passed", cases.len())),
        "{stdout}"
    );
}

#[test]
fn verbose_prints_each_parameter_and_bad_flags_are_named() {
    let out = helpers::run_gradscope(&["gradcheck", "--verbose", "--max-entries", "5"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The LSTM's input kernel (24 x 5) is sampled, its head bias (3) whole.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("weight_ih_l0") && l.contains(" 5/120 ")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("head.bias") && l.contains(" 3/3 ")),
        "{stdout}"
    );
    let out = helpers::run_gradscope(&["gradcheck", "--max-entries", "0"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--max-entries"), "{stderr}");
}
