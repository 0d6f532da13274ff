//! Logdirs in object storage (`--logdir s3://...`, the `object-store`
//! feature), against moto's S3 server on 127.0.0.1, started by each test
//! (`helpers::Moto`): `--scenario all` trained into a bucket, read back by
//! TensorBoard's own server and by `compare` (the same table as on disk);
//! three shards writing to one bucket at once, then `aggregate`; the
//! library's writers and reader on a bucket; a missing bucket and an
//! unreachable endpoint. They skip without moto in the venv unless
//! GRADSCOPE_PYTHON or GRADSCOPE_REQUIRE_MNIST require it.
//!
//! Without the feature: a URL logdir is refused, naming the feature, and no
//! local folder `s3:` is made.

use std::process::Output;

#[cfg(not(feature = "object-store"))]
use crate::helpers;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[cfg(not(feature = "object-store"))]
#[test]
fn without_the_feature_a_url_logdir_is_refused_and_no_local_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 30);
    let url = "s3://bucket/exp";
    let data = data.to_str().unwrap();
    let train = [
        "--scenario",
        "relu",
        "--iterations",
        "12",
        "--no-progress",
        "--data-dir",
        data,
        "--logdir",
        url,
    ];
    let mut commands: Vec<Vec<&str>> = vec![train.to_vec()];
    for command in ["inspect", "compare", "plot", "export", "aggregate"] {
        commands.push(vec![command, url]);
    }
    for args in commands {
        let out = helpers::gradscope()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}: {}", stdout(&out));
        assert!(
            err.contains(url) && err.contains("--features object-store"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(!dir.path().join("s3:").exists(), "{args:?} made a folder");
    }
}

#[cfg(feature = "object-store")]
mod with_the_feature {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use gradscope_tensorboard::logdir::{EventFile, FileStatus, Kind, Logdir, Run};
    use gradscope_tensorboard::summary::{scalar, summary_event};
    use gradscope_tensorboard::{read_events, EventWriter, SummaryWriter};

    use super::{stderr, stdout};
    use crate::helpers::moto::{env_for, BUCKET};
    use crate::helpers::{self, Moto, Server};

    const RUNS: [&str; 3] = ["leaky_relu", "relu", "sigmoid"];

    /// Runs `command`, failing the test unless it succeeds; its stdout.
    fn succeed(command: &mut Command) -> String {
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{command:?}: {}\n{}",
            stderr(&out),
            stdout(&out)
        );
        stdout(&out)
    }

    /// The binary, with `moto`'s endpoint and credentials.
    fn gradscope(moto: &Moto) -> Command {
        let mut command = helpers::gradscope();
        command.envs(moto.env());
        command
    }

    fn url(prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    #[test]
    fn scenario_all_in_a_bucket_is_served_by_tensorboard_and_compares_as_on_disk() {
        let Some(python) = helpers::python_with_moto() else {
            return;
        };
        let moto = Moto::start(&python);
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        helpers::write_synthetic(&data, 200, 50);
        let (bucket, disk) = (url("exp"), dir.path().join("logs"));
        for logdir in [Path::new(&bucket), &disk] {
            succeed(
                gradscope(&moto)
                    .args(["--scenario", "all", "--iterations", "400", "--no-progress"])
                    .arg("--data-dir")
                    .arg(&data)
                    .arg("--logdir")
                    .arg(logdir),
            );
        }
        assert!(!dir.path().join("s3:").exists());

        // Each run is a numbered series of objects, one per flush (a run
        // this short: one, from its close), from part 0; REPORT.md and the
        // figures are beside them.
        let keys = moto.keys("exp/");
        for run in RUNS {
            let parts: Vec<&String> = (keys.iter())
                .filter(|k| k.starts_with(&format!("exp/{run}/events.out.tfevents.")))
                .collect();
            assert!(
                parts.first().is_some_and(|k| k.ends_with(".00000000")),
                "{run}: {keys:?}"
            );
        }
        for file in [
            "REPORT.md",
            "plots/accuracy.png",
            "plots/grad_per_layer.png",
        ] {
            assert!(keys.contains(&format!("exp/{file}")), "{file}: {keys:?}");
        }

        // `compare` prints the same table from the bucket as from disk.
        let from_bucket = succeed(gradscope(&moto).args(["compare", &bucket]));
        let from_disk = succeed(gradscope(&moto).arg("compare").arg(&disk));
        assert_eq!(from_bucket, from_disk);
        assert!(from_bucket.contains("sigmoid"), "{from_bucket}");

        // TensorBoard's own server, pointed at the bucket through boto3 and
        // S3_ENDPOINT, serves every run's scalars and histograms: those on
        // disk.
        let log = dir.path().join("tensorboard.log");
        let mut server =
            Server::start_with_env(&python, Path::new(&bucket), false, log, &moto.env());
        server.wait_until_loaded(|tags| RUNS.iter().all(|run| tags[run]["loss"].is_object()));
        let on_disk = Logdir::load_dir(&disk).unwrap();
        for run in RUNS {
            let want = on_disk.run(run).unwrap();
            let query = |tag: &str| format!("run={run}&tag={tag}");
            for tag in ["loss", "acc", "mean_1", "attenuation"] {
                let served = server.get(&format!("/data/plugin/scalars/scalars?{}", query(tag)));
                let served: Vec<(i64, f32)> = (served.as_array().unwrap().iter())
                    .map(|p| (p[1].as_i64().unwrap(), p[2].as_f64().unwrap() as f32))
                    .collect();
                let written: Vec<(i64, f32)> = (want.scalars(tag).into_iter())
                    .map(|(step, v)| (step, v as f32))
                    .collect();
                assert_eq!(served, written, "{run} {tag}");
            }
            for tag in ["histogram_1", "hist_weights_6", "activations_1"] {
                let served = server.get(&format!(
                    "/data/plugin/histograms/histograms?{}",
                    query(tag)
                ));
                let served = served.as_array().unwrap();
                let steps: Vec<i64> = served.iter().map(|h| h[1].as_i64().unwrap()).collect();
                let written: Vec<i64> = want.tags[tag].points.iter().map(|p| p.step).collect();
                assert_eq!(steps, written, "{run} {tag}");
                assert!(
                    served.iter().all(|h| !h[2].as_array().unwrap().is_empty()),
                    "{run} {tag}: {served:?}"
                );
            }
        }
    }

    /// The sweep: two scenarios, three seeds each (six runs, two means).
    const SWEEP: [&str; 8] = [
        "--scenario",
        "sigmoid,relu",
        "--seeds",
        "3",
        "--iterations",
        "12",
        "--log-every",
        "4",
    ];

    #[test]
    fn three_shards_write_to_one_bucket_at_once_then_aggregate_writes_back_to_it() {
        let Some(python) = helpers::python_with_moto() else {
            return;
        };
        let moto = Moto::start(&python);
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        helpers::write_synthetic(&data, 100, 30);
        let bucket = url("sweep");
        let shard = |i: usize| {
            let mut command = gradscope(&moto);
            command
                .args(SWEEP)
                .args(["--no-progress", "--logdir", &bucket, "--shard"])
                .arg(format!("{i}/3"))
                .arg("--data-dir")
                .arg(&data);
            command
        };
        // All three at once, as a cluster's pods would: started together,
        // then waited for.
        let children: Vec<_> = (1..=3)
            .map(|i| {
                let mut command = shard(i);
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
                command.spawn().unwrap()
            })
            .collect();
        for (i, child) in children.into_iter().enumerate() {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "shard {}: {}", i + 1, stderr(&out));
            assert!(stdout(&out).contains("Shard "), "{}", stdout(&out));
        }
        let aggregated = succeed(gradscope(&moto).args(["aggregate", &bucket]));
        assert!(
            aggregated.contains("relu: mean and std over 3 seed(s)"),
            "{aggregated}"
        );

        let keys = moto.keys("sweep/");
        let runs = |keys: &[String]| {
            let mut runs: BTreeMap<String, usize> = BTreeMap::new();
            for key in keys.iter().filter(|k| k.contains("/events.out.tfevents.")) {
                let run = key["sweep/".len()..key.rfind('/').unwrap()].to_string();
                *runs.entry(run).or_default() += 1;
            }
            runs
        };
        let found = runs(&keys);
        let names: Vec<&str> = found.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "relu/mean",
                "relu/seed-1",
                "relu/seed-2",
                "relu/seed-3",
                "sigmoid/mean",
                "sigmoid/seed-1",
                "sigmoid/seed-2",
                "sigmoid/seed-3"
            ]
        );
        assert!(keys.contains(&"sweep/REPORT.md".to_string()), "{keys:?}");

        // The same sweep on disk, unsharded: the same table of seed groups.
        let disk = dir.path().join("logs");
        succeed(
            gradscope(&moto)
                .args(SWEEP)
                .arg("--no-progress")
                .arg("--data-dir")
                .arg(&data)
                .arg("--logdir")
                .arg(&disk),
        );
        let from_bucket = succeed(gradscope(&moto).args(["compare", &bucket]));
        let from_disk = succeed(gradscope(&moto).arg("compare").arg(&disk));
        assert_eq!(from_bucket, from_disk);
        assert!(from_bucket.contains("± "), "{from_bucket}");

        // A finished shard run again reads the bucket, trains nothing and
        // writes nothing; aggregating again replaces each mean run's objects.
        let again = succeed(&mut shard(2));
        assert!(again.contains("Nothing to train"), "{again}");
        assert_eq!(again.matches("Skipping ").count(), 2, "{again}");
        succeed(gradscope(&moto).args(["aggregate", &bucket]));
        assert_eq!(runs(&moto.keys("sweep/")), found);
    }

    /// The time a command took, with its output.
    fn timed(command: &mut Command) -> (Duration, std::process::Output) {
        let start = Instant::now();
        let out = command.output().unwrap();
        (start.elapsed(), out)
    }

    #[test]
    fn a_missing_bucket_or_an_unreachable_endpoint_is_an_error_naming_the_url() {
        let Some(python) = helpers::python_with_moto() else {
            return;
        };
        let moto = Moto::start(&python);
        let missing = "s3://no-such-bucket/exp";
        let train = ["--scenario", "relu", "--iterations", "12", "--no-progress"];
        let (took, out) = timed(gradscope(&moto).args(train).args(["--logdir", missing]));
        let err = stderr(&out);
        assert!(!out.status.success());
        assert!(
            err.contains(&format!("--logdir {missing}")) && err.contains("not found"),
            "{err}"
        );
        assert!(took < Duration::from_secs(20), "{took:?}");
        let (_, out) = timed(gradscope(&moto).args(["compare", missing]));
        assert!(!out.status.success() && stderr(&out).contains(missing));

        // Nothing listens there: refused connections, retried with back-off
        // for a few seconds, then the error.
        let nobody = format!("http://127.0.0.1:{}", helpers::free_port());
        let bucket = url("exp");
        let (took, out) = timed(
            helpers::gradscope()
                .envs(env_for(&nobody))
                .args(train)
                .args(["--logdir", &bucket]),
        );
        let err = stderr(&out);
        assert!(!out.status.success());
        assert!(
            err.contains(&bucket) && err.contains("AWS_ENDPOINT_URL"),
            "{err}"
        );
        assert!(took < Duration::from_secs(40), "{took:?}");
    }

    /// One moto server for the tests of the library in this process, whose
    /// environment points the `object_store` client at it (set once, before
    /// the first store is built).
    fn in_process_moto() -> Option<&'static Moto> {
        static MOTO: OnceLock<Option<Moto>> = OnceLock::new();
        MOTO.get_or_init(|| {
            let moto = Moto::start(&helpers::python_with_moto()?);
            for (key, value) in moto.env() {
                std::env::set_var(key, value);
            }
            Some(moto)
        })
        .as_ref()
    }

    #[test]
    fn summary_writer_on_a_bucket_writes_whole_objects_that_load_as_one_run() {
        let Some(moto) = in_process_moto() else {
            return;
        };
        let run = url("library/run");
        let writer = SummaryWriter::builder(&run)
            .flush_interval(Duration::from_millis(50))
            .build()
            .unwrap();
        assert!(writer.file_path().starts_with(&run), "{writer:?}");
        for step in 0..5 {
            writer
                .add_scalar("loss", 1.0 / (step + 1) as f64, step)
                .unwrap();
            std::thread::sleep(Duration::from_millis(120));
        }
        writer
            .add_histogram("weights", [0.1f32, -0.2, 0.3], 4)
            .unwrap();
        // The Projector's files go beside the event files.
        let points = [[0.1f32, 0.9], [0.8, 0.2]];
        (writer.add_embedding("points", &points, &["a", "b"], None, 0)).unwrap();
        writer
            .add_embedding("points", &points, &[], None, 1)
            .unwrap();
        // As if the process died now: no close. What the flush interval had
        // sent is in the bucket.
        std::thread::sleep(Duration::from_millis(400));
        std::mem::forget(writer);

        let keys = moto.keys("library/run/");
        for file in ["projector_config.pbtxt", "00000/points/tensors.tsv"] {
            assert!(keys.contains(&format!("library/run/{file}")), "{keys:?}");
        }
        let config = gradscope_tensorboard::storage::read(Path::new(&url(
            "library/run/projector_config.pbtxt",
        )))
        .unwrap();
        let config = String::from_utf8(config).unwrap();
        assert_eq!(config.matches("embeddings {").count(), 2, "{config}");
        let keys: Vec<String> = keys
            .into_iter()
            .filter(|k| k.contains("tfevents"))
            .collect();
        assert!(keys.len() >= 4, "an object per flush interval: {keys:?}");
        let mut events = 0;
        for key in &keys {
            let read = read_events(Path::new(&url(key))).unwrap();
            assert_eq!(read.truncated_at, None, "{key}");
            events += read.events.len();
        }
        assert_eq!(
            events,
            1 + 5 + 1,
            "the version event, 5 scalars, 1 histogram"
        );
        let logdir = Logdir::load_dir(url("library")).unwrap();
        let loaded = logdir.run("run").unwrap();
        assert_eq!(loaded.files.len(), keys.len());
        assert_eq!(loaded.scalars("loss").len(), 5);
        assert_eq!(loaded.scalars("loss")[4], (4, 0.2f32 as f64));
        assert_eq!(loaded.tags["weights"].kind, Kind::Histogram);

        // A run recorded while it was written, as the trainer records it
        // for REPORT.md, is taken as it is: its first object stands for the
        // series, which is not read back.
        let mut writer = EventWriter::create(Path::new(&url("recorded/run"))).unwrap();
        let mut recorded = Run::new("run");
        for step in 0..3 {
            let event = summary_event(step, 1.0, vec![scalar("x", step as f32)]);
            writer.write_event(&event).unwrap();
            writer.flush().unwrap();
            recorded.add_event(&event);
        }
        let first = writer.path().to_path_buf();
        recorded.files.push(EventFile::new(
            &first,
            writer.events(),
            FileStatus::Complete,
        ));
        writer.close().unwrap();
        assert_eq!(moto.keys("recorded/run/").len(), 3, "an object per flush");
        recorded.other_events.insert("marked", 1);
        let logdir = Logdir::load_dir_with(url("recorded"), vec![recorded.clone()]).unwrap();
        assert!(logdir.runs[0].other_events.contains_key("marked"));
        // Another file beside it: read again.
        EventWriter::create(Path::new(&url("recorded/run")))
            .unwrap()
            .close()
            .unwrap();
        let logdir = Logdir::load_dir_with(url("recorded"), vec![recorded]).unwrap();
        assert!(!logdir.runs[0].other_events.contains_key("marked"));
        assert_eq!(logdir.runs[0].scalars("x").len(), 3);

        // A bucket that does not exist: an error at create, naming the URL.
        let missing = PathBuf::from("s3://no-such-bucket/run");
        let err = EventWriter::create(&missing).err().unwrap().to_string();
        assert!(
            err.contains("s3://no-such-bucket/run") && err.contains("not found"),
            "{err}"
        );
        let err = SummaryWriter::new(&missing).unwrap_err().to_string();
        assert!(err.contains("s3://no-such-bucket/run"), "{err}");
        let err = Logdir::load(&missing).unwrap_err().to_string();
        assert!(err.contains("s3://no-such-bucket/run"), "{err}");
    }
}
