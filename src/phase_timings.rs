//! `PhaseTimings`: how long each phase of a run took on the wall clock, which `audit --timings`
//! and `ingest --timings` print to standard error. Never written to a run's files, which stay
//! the same from run to run.

use std::io::Write;
use std::time::{Duration, Instant};

/// The phases of a run in the order they first ended, each with its time: the time from the
/// end of the phase before to its own end. A phase that ends several times (once per part) adds
/// up, so the phases' times add up to the run's.
#[derive(Debug, Clone)]
pub struct PhaseTimings {
    started: Instant,
    last: Instant,
    phases: Vec<(String, Duration)>,
}

impl PhaseTimings {
    /// Timings whose first phase starts now.
    pub fn start() -> PhaseTimings {
        let now = Instant::now();
        PhaseTimings {
            started: now,
            last: now,
            phases: Vec::new(),
        }
    }

    /// Ends phase `name` now: it took the time since the last phase ended (or the start).
    pub fn end(&mut self, name: &str) {
        let now = Instant::now();
        self.add(name, now - self.last);
        self.last = now;
    }

    fn add(&mut self, name: &str, took: Duration) {
        match self.phases.iter_mut().find(|(n, _)| n == name) {
            Some((_, d)) => *d += took,
            None => self.phases.push((name.to_string(), took)),
        }
    }

    /// The phases and their times, in order.
    pub fn phases(&self) -> &[(String, Duration)] {
        &self.phases
    }

    /// One line per phase (its seconds, then its name), then the whole run's.
    pub fn write(&self, w: &mut impl Write) -> std::io::Result<()> {
        for (name, took) in &self.phases {
            writeln!(w, "{:>9.3} s  {name}", took.as_secs_f64())?;
        }
        writeln!(
            w,
            "{:>9.3} s  in all",
            (self.last - self.started).as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_keep_their_first_order_and_add_up() {
        let mut t = PhaseTimings::start();
        t.add("b", Duration::from_millis(1500));
        t.end("a");
        t.add("b", Duration::from_millis(250));
        t.end("c");
        t.end("a");
        let names: Vec<&str> = t.phases().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "a", "c"]);
        assert_eq!(t.phases()[0].1, Duration::from_millis(1750));
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "a phase ended twice has one line: {text}");
        assert_eq!(lines[0], "    1.750 s  b");
        assert!(lines[1].ends_with(" s  a") && lines[3].ends_with(" s  in all"));
    }
}
