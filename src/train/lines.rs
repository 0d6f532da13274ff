//! The lines a run prints while it trains: `Iteration ...` at each logged
//! step and any warning about it, from the run's [`RunLog`](crate::train::RunLog).
//!
//! On a terminal each line appears at once, above the progress bar. Into a
//! file or a pipe, lines are gathered and written in blocks, each line at
//! most [`LATENCY`] (and one training iteration) after it was printed: at
//! `--log-every 1` a line a step, written one at a time, was a system call
//! per step. Lines still gathered when the run ends, fails or is stopped
//! are written then; a SIGKILL loses at most the last [`LATENCY`] of them.
//!
//! A failed write to stdout (a closed pipe) does not stop training: the
//! event files are the run's record, and the lines are dropped.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

/// The longest a gathered line waits before it is written.
pub const LATENCY: Duration = Duration::from_millis(100);

/// Gathered bytes that are written at once, whatever their age.
const BLOCK: usize = 16 * 1024;

/// Where a run's lines go.
pub struct Lines {
    /// `None` on a terminal: every line goes straight out.
    out: Option<Box<dyn Write + Send>>,
    /// The bar the lines must not garble.
    progress: ProgressBar,
    /// Put before each line: the run's name, when several runs print at
    /// once (`--jobs`).
    prefix: String,
    gathered: Vec<u8>,
    /// When the oldest gathered line was printed.
    since: Option<Instant>,
}

impl Lines {
    /// Lines for stdout: gathered unless stdout is a terminal.
    pub fn stdout(progress: ProgressBar) -> Lines {
        let out: Option<Box<dyn Write + Send>> = if io::stdout().is_terminal() {
            None
        } else {
            Some(Box::new(io::stdout()))
        };
        Lines::new(out, progress)
    }

    /// Lines gathered and written to `out` in blocks, or printed at once
    /// (`None`).
    fn new(out: Option<Box<dyn Write + Send>>, progress: ProgressBar) -> Lines {
        Lines {
            out,
            progress,
            prefix: String::new(),
            gathered: Vec::new(),
            since: None,
        }
    }

    /// These lines, each with `prefix` in front.
    pub fn prefixed(mut self, prefix: String) -> Lines {
        self.prefix = prefix;
        self
    }

    /// Prints one line (a newline is added).
    pub fn print(&mut self, line: fmt::Arguments<'_>) {
        let prefix = &self.prefix;
        if self.out.is_none() {
            self.progress.suspend(|| println!("{prefix}{line}"));
            return;
        }
        let now = Instant::now();
        // Formatting into a Vec cannot fail.
        let _ = writeln!(self.gathered, "{prefix}{line}");
        let since = *self.since.get_or_insert(now);
        if self.gathered.len() >= BLOCK || now.duration_since(since) >= LATENCY {
            self.write_out();
        }
    }

    /// Writes the gathered lines if the oldest has waited [`LATENCY`]: for
    /// each iteration's end, so that the last lines before a long quiet
    /// stretch still come out in time.
    pub fn write_if_due(&mut self) {
        if self.since.is_some_and(|since| since.elapsed() >= LATENCY) {
            self.write_out();
        }
    }

    /// Writes every gathered line now.
    pub fn write_out(&mut self) {
        if let Some(out) = &mut self.out {
            if !self.gathered.is_empty() {
                let _ = out.write_all(&self.gathered).and_then(|()| out.flush());
            }
        }
        self.gathered.clear();
        self.since = None;
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        // The run is over, one way or another.
        self.write_out();
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    pub struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    pub fn gathered_into(sink: &Sink) -> Lines {
        Lines::new(Some(Box::new(sink.clone())), ProgressBar::hidden())
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{gathered_into, Sink};
    use super::*;

    #[test]
    fn lines_wait_until_written_out_and_keep_their_order() {
        let sink = Sink::default();
        let mut lines = gathered_into(&sink);
        lines.print(format_args!("Iteration {} of 2", 0));
        lines.print(format_args!("  warning: step {}", 0));
        lines.print(format_args!("Iteration {} of 2", 1));
        assert_eq!(sink.text(), "", "written before their time");
        lines.write_if_due();
        assert_eq!(sink.text(), "", "not due yet");
        lines.write_out();
        assert_eq!(
            sink.text(),
            "Iteration 0 of 2\n  warning: step 0\nIteration 1 of 2\n"
        );
    }

    #[test]
    fn a_line_older_than_the_latency_goes_out() {
        let sink = Sink::default();
        let mut lines = gathered_into(&sink);
        lines.print(format_args!("first"));
        std::thread::sleep(LATENCY);
        lines.write_if_due();
        assert_eq!(sink.text(), "first\n");
        // Printing also writes out what has waited long enough.
        lines.print(format_args!("second"));
        std::thread::sleep(LATENCY);
        lines.print(format_args!("third"));
        assert_eq!(sink.text(), "first\nsecond\nthird\n");
    }

    #[test]
    fn a_full_block_goes_out_and_the_rest_when_dropped() {
        let sink = Sink::default();
        let mut lines = gathered_into(&sink);
        let line = "x".repeat(99);
        let count = BLOCK / 100 + 5;
        for _ in 0..count {
            lines.print(format_args!("{line}"));
        }
        let written = sink.text().len();
        assert!(written >= BLOCK && written < count * 100, "{written}");
        drop(lines);
        assert_eq!(sink.text().len(), count * 100);
    }

    #[test]
    fn a_failing_stdout_drops_the_lines_and_carries_on() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut lines = Lines::new(Some(Box::new(Closed)), ProgressBar::hidden());
        lines.print(format_args!("lost"));
        lines.write_out();
        lines.print(format_args!("also lost"));
    }
}
