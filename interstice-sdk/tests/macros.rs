//! The macros' error messages: each bad input in `ui/` fails to compile
//! with the message (and span) recorded next to it; `ui/pass_*.rs`
//! compile. Regenerate the expectations with `TRYBUILD=overwrite`.

#[test]
fn macro_errors_point_at_the_problem() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}
