use std::process::ExitCode;

use clap::Parser;
use gradscope::cli::{Cli, Command};
use gradscope::interrupt::{self, Interrupted};

// candle allocates and frees a tensor per op; mimalloc keeps freed memory
// for reuse instead of returning it to the OS every step.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // These networks are far too small to gain from threads, and unset, candle
    // re-reads /proc/cpuinfo to count cores on every matrix product. Must be
    // set before candle's first op.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let result = match Cli::parse().command() {
        // Only training checks for Ctrl-C; the other commands keep the
        // default (die at once), which is right for them.
        Command::Train(args) => interrupt::install()
            .map_err(|e| anyhow::anyhow!("cannot handle Ctrl-C and SIGTERM: {e}"))
            .and_then(|()| gradscope::experiment::run(&args).map(drop)),
        Command::Inspect(args) => gradscope::report::inspect::run(&args.path),
        Command::Compare(args) => gradscope::report::compare::run(&args.logdir, args.format),
        Command::Plot(args) => gradscope::report::plot::run(&args.logdir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<Interrupted>() {
            Some(stopped) => {
                eprintln!("{stopped}");
                ExitCode::from(stopped.signal.exit_status())
            }
            None => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
