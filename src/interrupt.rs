//! Ctrl-C and SIGTERM: the first stops training cleanly, a second exits at
//! once. A closed stdout (SIGPIPE: `gradscope | head` after `head` is done)
//! stops training cleanly too.
//!
//! [`install`] (called by the binary) registers handlers for SIGINT,
//! SIGTERM and SIGPIPE. The first of them only records which signal came. The training
//! loop asks [`requested`] once per iteration; on a signal it closes its event
//! file (everything buffered reaches the file) and returns [`Interrupted`],
//! which says where the run stopped and which the binary turns into exit
//! status 128 + signal: 130 for Ctrl-C, 143 for SIGTERM, 141 for SIGPIPE, as
//! shells report a process killed by them. A second SIGINT or SIGTERM, for
//! when the clean stop hangs, exits at once with that status, losing at most
//! what is still buffered. SIGPIPE never exits at once: every write to the
//! closed stdout raises it again, and the clean stop must be let finish (the
//! lines it cannot print are dropped, see [`crate::train::lines`]).
//!
//! Without [`install`] (the library in tests) signals keep their default
//! action and [`requested`] is always `None`.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use signal_hook::consts::{SIGINT, SIGPIPE, SIGTERM};
use signal_hook::flag;

/// A termination signal that asked the run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(i32);

impl Signal {
    pub const INTERRUPT: Signal = Signal(SIGINT);
    pub const TERMINATE: Signal = Signal(SIGTERM);
    pub const BROKEN_PIPE: Signal = Signal(SIGPIPE);

    /// 128 + the signal number: what a shell shows for a process it killed.
    pub fn exit_status(self) -> u8 {
        (128 + self.0) as u8
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Signal::INTERRUPT => f.write_str("SIGINT (Ctrl-C)"),
            Signal::TERMINATE => f.write_str("SIGTERM"),
            Signal::BROKEN_PIPE => f.write_str("SIGPIPE (stdout was closed)"),
            Signal(n) => write!(f, "signal {n}"),
        }
    }
}

/// Set by the signal handlers; read by [`requested`].
struct Flags {
    /// Armed by the first signal; a signal that finds it armed exits at once.
    stopping: Arc<AtomicBool>,
    /// The number of the last signal received, 0 before any.
    signal: Arc<AtomicUsize>,
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

/// Routes SIGINT, SIGTERM and SIGPIPE to `requested`, and a second SIGINT
/// or SIGTERM to an immediate exit. Calling it again does nothing.
pub fn install() -> io::Result<()> {
    if FLAGS.get().is_some() {
        return Ok(());
    }
    let flags = Flags {
        stopping: Arc::new(AtomicBool::new(false)),
        signal: Arc::new(AtomicUsize::new(0)),
    };
    for signal in [SIGINT, SIGTERM] {
        // Registration order is execution order: the exit must check the
        // flag before this same signal arms it, or the first would exit.
        flag::register_conditional_shutdown(
            signal,
            i32::from(Signal(signal).exit_status()),
            Arc::clone(&flags.stopping),
        )?;
        flag::register(signal, Arc::clone(&flags.stopping))?;
        flag::register_usize(signal, Arc::clone(&flags.signal), signal as usize)?;
    }
    flag::register_usize(SIGPIPE, Arc::clone(&flags.signal), SIGPIPE as usize)?;
    let _ = FLAGS.set(flags);
    Ok(())
}

/// The signal that asked the run to stop, if one came.
pub fn requested() -> Option<Signal> {
    let signal = FLAGS.get()?.signal.load(Ordering::Relaxed);
    (signal != 0).then_some(Signal(signal as i32))
}

/// A run stopped by a signal after closing its event file cleanly; the
/// message says where it stopped.
#[derive(Debug)]
pub struct Interrupted {
    pub signal: Signal,
    pub message: String,
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Interrupted {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_is_128_plus_the_signal() {
        assert_eq!(Signal::INTERRUPT.exit_status(), 130);
        assert_eq!(Signal::TERMINATE.exit_status(), 143);
        assert_eq!(Signal::INTERRUPT.to_string(), "SIGINT (Ctrl-C)");
        assert_eq!(Signal::BROKEN_PIPE.exit_status(), 141);
    }
}
