//! `torsion-bench instructions --quick` run whole: both HTTP servers under
//! callgrind and a load generator, three tables (scripts/test installs
//! valgrind, wrk and h2load).

use std::process::Command;

#[test]
fn each_case_counts_both_servers_and_prints_the_ratio_of_their_totals() {
    let output = Command::new(env!("CARGO_BIN_EXE_torsion-bench"))
        .args(["instructions", "--quick"])
        .output()
        .expect("torsion-bench runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    let tables: Vec<&str> = text.split("\ninstructions: ").skip(1).collect();
    assert_eq!(tables.len(), 3, "{text}");
    for table in tables {
        let row = |name: &str| -> Vec<f64> {
            table
                .lines()
                .find(|line| line.starts_with(name))
                .unwrap_or_else(|| panic!("no {name} row in:\n{table}"))
                .split_whitespace()
                .filter_map(|word| word.parse().ok())
                .collect()
        };
        let all = row("all ");
        let [torsion, hyper, ratio] = all[..] else {
            panic!("{table}");
        };
        // A hello request costs thousands of instructions (tens of
        // thousands in the debug build the tests run), not millions: the
        // server's start is spread over the requests it served.
        for total in [torsion, hyper] {
            assert!((1_000.0..1_000_000.0).contains(&total), "{table}");
        }
        assert!((ratio - torsion / hyper).abs() < 0.01, "{table}");
        // Each side's runtime is counted where it runs.
        assert!(row("torsion ")[0] > 0.0, "{table}");
        assert!(row("tokio ")[1] > 0.0, "{table}");
        // torsion-web answers HTTP/1 itself and HTTP/2 through hyper's
        // connection; the peer is hyper in both.
        let http2 = table.starts_with("HTTP/2");
        assert_eq!(row("hyper ")[0] > 100.0, http2, "{table}");
        assert!(row("hyper ")[1] > 100.0, "{table}");
    }
}
