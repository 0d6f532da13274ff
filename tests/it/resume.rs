//! Checkpoints and `--resume`: a run killed with SIGKILL (a real kill of
//! the process, through libc) or stopped by SIGTERM, continued from its
//! last checkpoint, ends bit for bit as the same run uninterrupted: the
//! same final weights (`--save`'s bytes), the same `test_acc`, and the same
//! value at every step of every scalar tag as TensorBoard's loader reads the
//! folder, each step once. The same for a `--seeds 3 --shard 1/2` sweep
//! killed and rerun. Bad checkpoints and mismatched flags are refused with
//! nothing written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use gradscope_tensorboard::logdir::Logdir;

use crate::helpers;

/// Long enough that a kill after the second checkpoint lands mid-run on
/// any machine (a few seconds here), short enough for a test.
const ITERATIONS: usize = 20_000;
const LOG_EVERY: usize = 100;
const CHECKPOINT_EVERY: usize = 1_000;
const CHECKPOINT: &str = "checkpoint.safetensors";

/// The binary training `extra`'s runs on `data` into `logdir`, the final
/// weights saved to `save` (one file per run of a plan of several).
fn command(data: &Path, logdir: &Path, save: &Path, extra: &[&str]) -> Command {
    let (iterations, log_every) = (ITERATIONS.to_string(), LOG_EVERY.to_string());
    command_with(data, logdir, save, [&iterations, &log_every], extra)
}

/// [`command`] with other `--iterations` and `--log-every`.
fn command_with(
    data: &Path,
    logdir: &Path,
    save: &Path,
    [iterations, log_every]: [&str; 2],
    extra: &[&str],
) -> Command {
    let mut cmd = helpers::gradscope();
    cmd.args(["--activation", "relu", "--jobs", "1", "--no-progress"])
        .args(["--iterations", iterations])
        .args(["--log-every", log_every])
        .args(["--checkpoint-every", &CHECKPOINT_EVERY.to_string()])
        .arg("--data-dir")
        .arg(data)
        .arg("--logdir")
        .arg(logdir)
        .arg("--save")
        .arg(save)
        .args(extra);
    cmd
}

fn succeeded(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The checkpoint's modification time, if it exists.
fn checkpoint_time(run_dir: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(run_dir.join(CHECKPOINT))
        .and_then(|m| m.modified())
        .ok()
}

/// Sends `signal` to `child` once `run_dir` has had `checkpoints`
/// checkpoints written (counted by their renames), then waits for it.
fn signal_after_checkpoints(
    mut child: Child,
    run_dir: &Path,
    checkpoints: usize,
    signal: libc::c_int,
) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut seen, mut last) = (0, None);
    while seen < checkpoints {
        assert!(Instant::now() < deadline, "no checkpoint in {run_dir:?}");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before its checkpoint {checkpoints}");
        }
        let now = checkpoint_time(run_dir);
        if now.is_some() && now != last {
            (seen, last) = (seen + 1, now);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    // Past the checkpoint: the killed file holds steps a resume must purge
    // (the writer hands its buffer to the OS at least once a second).
    let newest = || helpers::event_files(run_dir).pop().unwrap();
    let size = || std::fs::metadata(newest()).unwrap().len();
    let at_checkpoint = size();
    while size() == at_checkpoint {
        assert!(Instant::now() < deadline, "the event file stopped growing");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before it logged past its checkpoint");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // SAFETY: kill(2) on our own child's pid, which has not been waited for.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(sent, 0, "kill failed");
    child.wait().unwrap()
}

/// The iteration a checkpoint continues from, read from its header
/// (8 bytes of length, then JSON whose `__metadata__` has `iteration`).
fn checkpoint_iteration(path: &Path) -> i64 {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    header["__metadata__"]["iteration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Starts `start()` and SIGKILLs it once `run_dir` has had two checkpoints
/// and its event file has grown since, until the killed file holds a
/// logged step at or past the last checkpoint: one a resume must purge. A
/// kill can land between a checkpoint's flush and its rename, leaving
/// nothing to purge; then the folder `clean` is removed and it runs again
/// (at most 5 times).
fn kill_past_a_checkpoint(start: impl Fn() -> Command, run_dir: &Path, clean: &Path) {
    use std::os::unix::process::ExitStatusExt;
    for _attempt in 0..5 {
        let child = start().stdout(Stdio::null()).spawn().unwrap();
        let status = signal_after_checkpoints(child, run_dir, 2, libc::SIGKILL);
        assert_eq!(status.signal(), Some(libc::SIGKILL), "killed mid-run");
        let at = checkpoint_iteration(&run_dir.join(CHECKPOINT));
        let killed = helpers::event_files(run_dir).pop().unwrap();
        if helpers::scalars(&killed).steps("loss").last() >= Some(&at) {
            return;
        }
        std::fs::remove_dir_all(clean).unwrap();
    }
    panic!("no kill landed past a checkpoint's logged steps in 5 runs");
}

/// Every scalar tag's (step, value) points and every tag's steps, as our
/// reader reads the logdir (purged points dropped).
type Points = BTreeMap<String, BTreeMap<String, Vec<(i64, Option<f64>)>>>;

fn our_points(logdir: &Path) -> Points {
    let loaded = Logdir::load_dir(logdir).unwrap();
    loaded
        .runs
        .iter()
        .map(|run| {
            let tags = (run.tags.iter())
                .map(|(name, tag)| {
                    let points = tag.points.iter().map(|p| (p.step, p.value)).collect();
                    (name.clone(), points)
                })
                .collect();
            (run.name.clone(), tags)
        })
        .collect()
}

/// TensorBoard's loader's view of `logdir`: per run, per tag, the steps and
/// (for scalars) values.
fn tensorboard_points(python: &Path, logdir: &Path) -> serde_json::Value {
    let mut json = helpers::tensorboard_load(python, logdir);
    // Histograms and images: their steps are what must match; their
    // wall-time-free contents match too, but make the comparison slow.
    for run in json["runs"].as_object_mut().unwrap().values_mut() {
        for tag in run.as_object_mut().unwrap().values_mut() {
            if tag["plugin"] != "scalars" {
                for point in tag["points"].as_array_mut().unwrap() {
                    point[1] = serde_json::Value::Null;
                }
            }
        }
    }
    json
}

/// The steps of `tag` in `run` of a [`tensorboard_points`] answer.
fn steps(json: &serde_json::Value, run: &str, tag: &str) -> Vec<i64> {
    let points = json["runs"][run][tag]["points"].as_array();
    let points = points.unwrap_or_else(|| panic!("{run}: no {tag}"));
    points.iter().map(|p| p[0].as_i64().unwrap()).collect()
}

/// Asserts that the logdirs `resumed` and `uninterrupted` hold the same
/// runs, bit for bit: final weights, `test_acc`, every scalar at every
/// step, through our reader and (with Python) TensorBoard's, each step
/// once.
fn assert_same_runs(
    uninterrupted: &Path,
    resumed: &Path,
    saves: &[(PathBuf, PathBuf)],
    iterations: usize,
) {
    for (a, b) in saves {
        let (a_bytes, b_bytes) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
        assert!(a_bytes == b_bytes, "final weights differ: {a:?} {b:?}");
    }
    let (ours_a, ours_b) = (our_points(uninterrupted), our_points(resumed));
    assert_eq!(
        ours_a.keys().collect::<Vec<_>>(),
        ours_b.keys().collect::<Vec<_>>()
    );
    for (run, tags) in &ours_a {
        let test_acc = |points: &Points| points[run]["test_acc"].clone();
        assert_eq!(test_acc(&ours_a).len(), 1, "{run}: one test_acc");
        assert_eq!(test_acc(&ours_a), test_acc(&ours_b), "{run}: test_acc");
        for (tag, points) in tags {
            let wrong = |what: &str| format!("{run}/{tag}: {what}");
            let other = ours_b[run]
                .get(tag)
                .unwrap_or_else(|| panic!("{}", wrong("missing")));
            assert_eq!(points, other, "{}", wrong("points differ"));
        }
        assert_eq!(tags.len(), ours_b[run].len(), "{run}: tags");
    }
    let Some(python) = helpers::python() else {
        return; // helpers::python said why
    };
    let (tb_a, tb_b) = (
        tensorboard_points(&python, uninterrupted),
        tensorboard_points(&python, resumed),
    );
    for run in ours_a.keys() {
        let loss = steps(&tb_b, run, "loss");
        let expected: Vec<i64> = (0..iterations as i64).step_by(LOG_EVERY).collect();
        assert_eq!(loss, expected, "{run}: each logged step once, in order");
    }
    let runs = |json: &serde_json::Value| json["runs"].as_object().unwrap().clone();
    let (runs_a, runs_b) = (runs(&tb_a), runs(&tb_b));
    assert_eq!(
        runs_a.keys().collect::<Vec<_>>(),
        runs_b.keys().collect::<Vec<_>>()
    );
    for (run, tags) in &runs_a {
        let (tags, other) = (tags.as_object().unwrap(), runs_b[run].as_object().unwrap());
        assert_eq!(
            tags.keys().collect::<Vec<_>>(),
            other.keys().collect::<Vec<_>>()
        );
        for (tag, points) in tags {
            assert_eq!(
                points, &other[tag],
                "TensorBoard's loader: {run}/{tag} differs"
            );
        }
    }
}

/// The run folder of the single relu run.
fn relu_dir(logdir: &Path) -> PathBuf {
    logdir.join("relu")
}

#[test]
fn a_run_killed_with_sigkill_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 300, 60);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (save_a, save_b) = (dir.path().join("a.st"), dir.path().join("b.st"));
    succeeded(command(&data, &a, &save_a, &[]).output().unwrap());
    assert!(
        !relu_dir(&a).join(CHECKPOINT).exists(),
        "a finished run keeps no checkpoint"
    );

    kill_past_a_checkpoint(|| command(&data, &b, &save_b, &[]), &relu_dir(&b), &b);
    assert!(!save_b.exists(), "the killed run did not finish");
    // A kill in the middle of writing the next checkpoint leaves its
    // temporary file cut short beside the last one, which stays whole.
    let checkpoint = std::fs::read(relu_dir(&b).join(CHECKPOINT)).unwrap();
    let temp = relu_dir(&b).join(format!("{CHECKPOINT}.tmp"));
    std::fs::write(&temp, &checkpoint[..checkpoint.len() / 3]).unwrap();

    let out = succeeded(command(&data, &b, &save_b, &["--resume"]).output().unwrap());
    assert!(out.contains("Resuming relu from "), "{out}");
    assert!(!temp.exists(), "the finished run left no checkpoint file");
    let files = helpers::event_files(&relu_dir(&b));
    assert_eq!(files.len(), 2, "a new file");
    // The killed file logged past the checkpoint: those steps were purged,
    // or the comparison below would see them twice.
    let mut loss_steps: Vec<Vec<i64>> = (files.iter())
        .map(|f| helpers::scalars(f).steps("loss"))
        .collect();
    loss_steps.sort();
    let (killed, resumed) = (&loss_steps[0], &loss_steps[1]);
    assert!(
        killed.last() >= resumed.first(),
        "killed at {:?}, resumed from {:?}",
        killed.last(),
        resumed.first()
    );
    assert_same_runs(&a, &b, &[(save_a, save_b)], ITERATIONS);
}

#[test]
fn sigterm_saves_a_checkpoint_that_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 300, 60);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (save_a, save_b) = (dir.path().join("a.st"), dir.path().join("b.st"));
    succeeded(command(&data, &a, &save_a, &[]).output().unwrap());

    let child = command(&data, &b, &save_b, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = signal_after_checkpoints(child, &relu_dir(&b), 1, libc::SIGTERM);
    assert_eq!(status.code(), Some(143));
    // Stopped between two checkpoints, the signal's own checkpoint is
    // where the run stopped (rarely on a multiple of CHECKPOINT_EVERY).
    let out = succeeded(command(&data, &b, &save_b, &["--resume"]).output().unwrap());
    assert!(out.contains("Resuming relu from "), "{out}");
    assert_same_runs(&a, &b, &[(save_a, save_b)], ITERATIONS);
}

/// An LSTM's iterations take some 5 times an MLP's.
const LSTM_ITERATIONS: usize = 5_000;

/// A recurrent run (an LSTM) stopped by SIGTERM and resumed: its
/// gradient-through-time curves and figure come back with the rest.
#[test]
fn a_stopped_lstm_run_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 300, 60);
    let lstm = |logdir: &Path, extra: &[&str]| {
        let mut cmd = helpers::gradscope();
        cmd.args(["--scenario", "lstm", "--hidden", "8", "--no-progress"])
            .args(["--iterations", &LSTM_ITERATIONS.to_string()])
            .args(["--log-every", &LOG_EVERY.to_string()])
            .args(["--checkpoint-every", &CHECKPOINT_EVERY.to_string()])
            .arg("--data-dir")
            .arg(&data)
            .arg("--logdir")
            .arg(logdir)
            .args(extra);
        cmd
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    succeeded(lstm(&a, &[]).output().unwrap());
    let child = (lstm(&b, &[]).stdout(Stdio::null()).stderr(Stdio::null()))
        .spawn()
        .unwrap();
    let status = signal_after_checkpoints(child, &b.join("lstm-h8"), 1, libc::SIGTERM);
    assert_eq!(status.code(), Some(143));
    let out = succeeded(lstm(&b, &["--resume"]).output().unwrap());
    assert!(out.contains("Resuming lstm-h8 from "), "{out}");
    assert_same_runs(&a, &b, &[], LSTM_ITERATIONS);
}

#[test]
fn a_killed_seed_sweep_shard_reruns_to_the_same_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 300, 60);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (save_a, save_b) = (dir.path().join("a.st"), dir.path().join("b.st"));
    let sweep = ["--seeds", "3", "--shard", "1/2"];
    succeeded(command(&data, &a, &save_a, &sweep).output().unwrap());

    // Shard 1 of 2 holds seeds 1 and 3: killed in seed 3's run, seed 1's
    // finished; the rerun skips it and continues seed 3.
    let seed_3 = b.join("relu/seed-3");
    kill_past_a_checkpoint(|| command(&data, &b, &save_b, &sweep), &seed_3, &b);
    let out = succeeded(command(&data, &b, &save_b, &sweep).output().unwrap());
    assert!(
        out.contains("Skipping relu/seed-1: it finished already"),
        "{out}"
    );
    assert!(out.contains("Resuming relu/seed-3 from "), "{out}");

    // With several runs, --save gets the run's name: a-relu-seed-1.st.
    let file = |prefix: &str, seed: usize| dir.path().join(format!("{prefix}-relu-seed-{seed}.st"));
    let saves = [1, 3].map(|seed| (file("a", seed), file("b", seed)));
    assert_same_runs(&a, &b, &saves, ITERATIONS);
}

#[test]
fn resuming_with_other_flags_or_a_damaged_checkpoint_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 300, 60);
    let logs = dir.path().join("logs");
    let save = dir.path().join("w.st");
    let child = command(&data, &logs, &save, &[])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    signal_after_checkpoints(child, &relu_dir(&logs), 1, libc::SIGKILL);
    let run_dir = relu_dir(&logs);
    let listing = || {
        let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&run_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
            .collect();
        files.sort();
        files
    };
    let before = listing();

    let refused = |lengths: [&str; 2]| {
        let out = command_with(&data, &logs, &save, lengths, &["--resume"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(listing() == before, "nothing written or changed: {stderr}");
        stderr
    };
    let stderr = refused(["30000", "100"]);
    assert!(stderr.contains("--iterations"), "{stderr}");
    assert!(
        stderr.contains("20000") && stderr.contains("30000"),
        "{stderr}"
    );
    assert!(stderr.contains(CHECKPOINT), "{stderr}");
    let stderr = refused(["20000", "7"]);
    assert!(stderr.contains("--log-every"), "{stderr}");

    // Cut short: named, with what is wrong.
    let checkpoint = run_dir.join(CHECKPOINT);
    let bytes = std::fs::read(&checkpoint).unwrap();
    std::fs::write(&checkpoint, &bytes[..bytes.len() / 2]).unwrap();
    let refused_cut = |extra: &[&str]| {
        let before = listing();
        let out = command(&data, &logs, &save, extra).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(listing() == before, "nothing written or changed: {stderr}");
        stderr
    };
    let stderr = refused_cut(&["--resume"]);
    assert!(
        stderr.contains(&checkpoint.display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("not a safetensors file"), "{stderr}");
}

/// TensorBoard's server, with each of its loaders (the Python multiplexer
/// and the Rust data server), shows each step of a resumed run once.
#[test]
fn tensorboard_server_shows_each_resumed_step_once() {
    let Some(python) = helpers::python() else {
        return; // helpers::python said why
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 300, 60);
    let logs = dir.path().join("logs");
    let save = dir.path().join("w.st");
    kill_past_a_checkpoint(
        || command(&data, &logs, &save, &[]),
        &relu_dir(&logs),
        &logs,
    );
    succeeded(
        command(&data, &logs, &save, &["--resume"])
            .output()
            .unwrap(),
    );
    let expected: Vec<i64> = (0..ITERATIONS as i64).step_by(LOG_EVERY).collect();
    for load_fast in [false, true] {
        let log = dir.path().join(format!("tensorboard-{load_fast}.log"));
        let mut server = helpers::Server::start(&python, &logs, load_fast, log);
        server.wait_until_loaded(|tags| tags["relu"].get("test_acc").is_some());
        // Both files read: the last file's last points are there. Poll a
        // little, a loader may still be on its way through them.
        let deadline = Instant::now() + Duration::from_secs(60);
        let loss = loop {
            let points = server.get("/data/plugin/scalars/scalars?run=relu&tag=loss");
            let steps: Vec<i64> = (points.as_array().unwrap().iter())
                .map(|p| p[1].as_i64().unwrap())
                .collect();
            if steps.last() == expected.last() || Instant::now() > deadline {
                break steps;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(loss, expected, "load_fast={load_fast}: each step once");
    }
}
