//! Measuring: CPU time of the calling thread, pinning, medians, tables.

use std::fs;
use std::process::Command;
use std::time::Duration;

/// CPU time the calling thread has run, from the scheduler's own
/// nanosecond account (`/proc/thread-self/schedstat`, first field).
pub fn thread_cpu_time() -> Duration {
    let text = fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let nanos = text
        .split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// CPU time all live threads of this process have run (the sum of
/// `/proc/self/task/*/schedstat`): the loop thread and every pool worker,
/// whether it was working or spinning. Threads that exit between two
/// readings drop out of the sum, so read it while the threads measured
/// are alive. A thread running at the moment of reading shows its time up
/// to its last scheduler tick (a few ms), so measure phases of a good part
/// of a second or more.
pub fn process_cpu_time() -> Duration {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// Pins the calling thread to `cpu` with `taskset`, so the measured loop and
/// the load never share a core. Returns false (and the run goes on
/// unpinned) if that is not possible here.
pub fn pin_current_thread(cpu: usize) -> bool {
    let Ok(link) = fs::read_link("/proc/thread-self") else {
        return false;
    };
    let Some(tid) = link.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    Command::new("taskset")
        .args(["-pc", &cpu.to_string(), tid])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Whether lower or higher is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Costs: time, CPU.
    Lower,
    /// Rates: operations per second.
    Higher,
}

/// One metric measured on both engines, every run kept.
#[derive(Debug, Clone)]
pub struct Row {
    /// What is measured, with its unit.
    pub metric: String,
    /// torsion's figure from each run.
    pub torsion: Vec<f64>,
    /// tokio's figure from each run.
    pub tokio: Vec<f64>,
    /// Which direction is better.
    pub better: Better,
}

impl Row {
    /// A row with no runs yet.
    pub fn new(metric: &str, better: Better) -> Row {
        Row {
            metric: metric.to_owned(),
            torsion: Vec::new(),
            tokio: Vec::new(),
            better,
        }
    }

    /// torsion's median divided by tokio's.
    pub fn ratio(&self) -> f64 {
        median(&self.torsion) / median(&self.tokio)
    }
}

fn spread(values: &[f64]) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mid = median(values);
    // Show the range when it is wider than 10% of the median.
    if values.len() > 1 && (max - min) > 0.1 * mid.abs() {
        format!(" [{} .. {}]", format_value(min), format_value(max))
    } else {
        String::new()
    }
}

fn format_value(value: f64) -> String {
    if value.abs() >= 1000.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

/// Renders rows as a table: metric, both medians (with their range when
/// wide) and the ratio torsion / tokio.
pub fn render(title: &str, rows: &[Row]) -> String {
    render_columns(title, ("torsion", "tokio"), rows)
}

/// [`render`] with other names for the two columns (the row's `torsion`
/// figures go left, its `tokio` figures right, the ratio is left / right).
pub fn render_columns(title: &str, (left, right): (&str, &str), rows: &[Row]) -> String {
    let mut out = format!("\n{title}\n");
    out.push_str(&format!(
        "{:<34} {:>32} {:>32} {:>8}\n",
        "metric",
        format!("{left} (median)"),
        format!("{right} (median)"),
        "ratio"
    ));
    for row in rows {
        let torsion = format!(
            "{}{}",
            format_value(median(&row.torsion)),
            spread(&row.torsion)
        );
        let tokio = format!("{}{}", format_value(median(&row.tokio)), spread(&row.tokio));
        let better = match row.better {
            Better::Lower => "(lower is better)",
            Better::Higher => "(higher is better)",
        };
        out.push_str(&format!(
            "{:<34} {:>32} {:>32} {:>8.3} {better}\n",
            row.metric,
            torsion,
            tokio,
            row.ratio()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn thread_cpu_time_grows_while_the_thread_works() {
        // Work until the reading shows 10 ms: on a loaded machine 20 ms of
        // wall time can hold less than 10 ms of CPU, so only the wall time
        // allowed is generous.
        let before = thread_cpu_time();
        let give_up = std::time::Instant::now() + Duration::from_secs(20);
        let mut x = 0u64;
        let mut used = Duration::ZERO;
        while used < Duration::from_millis(10) && std::time::Instant::now() < give_up {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            used = thread_cpu_time() - before;
        }
        assert!(used >= Duration::from_millis(10), "{used:?}");
    }

    #[test]
    fn ratio_divides_torsion_by_tokio_medians() {
        let mut row = Row::new("x", Better::Lower);
        row.torsion = vec![1.0, 2.0, 3.0];
        row.tokio = vec![4.0, 4.0, 4.0];
        assert_eq!(row.ratio(), 0.5);
    }

    #[test]
    fn render_shows_both_figures_the_ratio_and_wide_ranges() {
        let mut row = Row::new("cpu ms", Better::Lower);
        row.torsion = vec![10.0, 30.0, 20.0];
        row.tokio = vec![40.0, 40.0, 40.0];
        let text = render("bench", &[row]);
        assert!(text.contains("cpu ms"));
        assert!(text.contains("20.000 [10.000 .. 30.000]"));
        assert!(text.contains("40.000"));
        assert!(text.contains("0.500"));
    }
}
