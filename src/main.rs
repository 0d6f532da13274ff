use std::process::ExitCode;

use clap::Parser;
use gradscope::cli::{Cli, Command};
use gradscope::interrupt::{self, Interrupted};

// candle allocates and frees a tensor per op; mimalloc keeps freed memory
// for reuse instead of returning it to the OS every step.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let result = match Cli::parse().command() {
        Command::Train(args) => {
            // candle reads RAYON_NUM_THREADS on every matrix product (unset,
            // it re-reads /proc/cpuinfo each time), so it is always set, and
            // before candle's first op.
            std::env::set_var("RAYON_NUM_THREADS", args.threads().to_string());
            // Only training checks for Ctrl-C; the other commands keep the
            // default (die at once), which is right for them.
            interrupt::install()
                .map_err(|e| anyhow::anyhow!("cannot handle Ctrl-C and SIGTERM: {e}"))
                .and_then(|()| gradscope::experiment::run(&args).map(drop))
        }
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
