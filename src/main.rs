use std::process::ExitCode;

use clap::Parser;
use gradscope::Interrupted;
use gradscope::{Cli, Command};

// candle allocates and frees a tensor per op; mimalloc keeps freed memory
// for reuse instead of returning it to the OS every step.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hands memory that finished runs freed back to the OS. mimalloc keeps
/// freed pages for reuse, including those of each run's exited summary
/// thread; without this, three runs in one process peak about 30 MB higher
/// than one.
fn release_freed_memory() {
    // SAFETY: mi_collect only walks mimalloc's own free lists and heaps; it
    // may be called at any time, from any thread.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command() {
        Command::Train(args) => {
            // The matrix products (model::dense) run on rayon's global pool,
            // sized here, before anything uses it. candle's own ops are
            // elementwise and small here, and with more than one thread
            // candle starts a pool of spinning workers that compete with
            // the training thread for the cores: one thread for candle.
            // candle reads RAYON_NUM_THREADS at every op (unset, it re-reads
            // /proc/cpuinfo each time), so it is always set, before its
            // first op.
            let threads = args.threads();
            std::env::set_var("RAYON_NUM_THREADS", "1");
            if let Err(e) = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build_global()
            {
                eprintln!("warning: cannot size the thread pool to {threads}: {e}");
            }
            // Only training handles Ctrl-C, SIGTERM and a closed stdout
            // (SIGPIPE) with a clean stop; the other commands keep the
            // defaults: Ctrl-C ends them at once, which is right for them.
            gradscope::install_signal_handlers()
                .map_err(|e| anyhow::anyhow!("cannot handle Ctrl-C, SIGTERM and SIGPIPE: {e}"))
                .and_then(|()| args.experiment())
                .and_then(|experiment| gradscope::run_experiment(&experiment, release_freed_memory))
                .map(drop)
        }
        Command::Inspect(args) => gradscope::inspect(&args.path),
        Command::Compare(args) => gradscope::compare(&args.logdir, args.format),
        Command::Plot(args) => gradscope::plot(&args.logdir),
        Command::Export(args) => {
            let options = args.options();
            gradscope::export(&args.logdir, args.output.as_deref(), &options)
        }
        Command::Aggregate(args) => gradscope::aggregate(&args.logdir),
        Command::Gradcheck(args) => gradscope::gradcheck(args.seed, args.max_entries, args.verbose),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<Interrupted>() {
            Some(stopped) => {
                eprintln!("{stopped}");
                ExitCode::from(stopped.signal.exit_status())
            }
            None => {
                eprintln!("error: {}", gradscope::error_message(&e));
                ExitCode::FAILURE
            }
        },
    }
}
