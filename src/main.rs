use std::process::ExitCode;

use clap::Parser;
use gradscope::cli::{Cli, Command};

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
        Command::Train(args) => gradscope::experiment::run(&args).map(drop),
        Command::Inspect(args) => gradscope::report::inspect::run(&args.path),
        Command::Compare(args) => gradscope::report::compare::run(&args.logdir, args.format),
        Command::Plot(args) => gradscope::report::plot::run(&args.logdir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
