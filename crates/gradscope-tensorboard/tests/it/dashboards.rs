//! Every dashboard, as TensorBoard's own server serves it: the logdir that
//! `examples/all_dashboards.rs` writes with [`SummaryWriter`], loaded by
//! `tensorboard --logdir` on 127.0.0.1 with each of its loaders
//! (`--load_fast=false`, the Python multiplexer, and `--load_fast=true`,
//! the Rust data server), and asked through its HTTP data API (what the web
//! frontend fetches) for each kind: scalars, histograms, distributions,
//! images, audio, text, PR curves, the Projector, custom scalars, hparams
//! and graphs.
//!
//! Needs Python with TensorBoard: `GRADSCOPE_PYTHON`, else the
//! repository's `.venv` (`scripts/setup-venv.sh`). Without either the test
//! is skipped with a message; with `GRADSCOPE_PYTHON` set, a Python that
//! cannot run TensorBoard fails it.
//!
//! [`SummaryWriter`]: gradscope_tensorboard::SummaryWriter

#[path = "../../examples/all_dashboards.rs"]
mod all_dashboards;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use crate::helpers::tensorboard_python;

/// How long the server may take to start and to load each kind of data.
const READY_WITHIN: Duration = Duration::from_secs(90);

/// A response: status code and body bytes.
struct Response {
    status: u16,
    body: Vec<u8>,
}

/// One HTTP/1.0 request on the loopback interface (the server closes the
/// connection after the response, so the body is all after the headers).
fn request(port: u16, method: &str, path: &str, json: Option<&str>) -> Result<Response, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let fail = |what: &str, e: std::io::Error| format!("{method} {path}: {what}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| fail("connect", e))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| fail("timeout", e))?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    if let Some(json) = json {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            json.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(json.unwrap_or(""));
    stream
        .write_all(head.as_bytes())
        .map_err(|e| fail("send", e))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| fail("read", e))?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{method} {path}: no end of headers"))?;
    let headers = String::from_utf8_lossy(&raw[..end]);
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{method} {path}: no status in {headers:?}"))?;
    Ok(Response {
        status,
        body: raw[end + 4..].to_vec(),
    })
}

/// `text` percent-encoded for a query string.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A running TensorBoard, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(python: &Path, logdir: &Path, load_fast: bool, log: PathBuf) -> Server {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = File::create(&log).unwrap();
        let child = Command::new(python)
            .args(["-m", "tensorboard.main", "--logdir"])
            .arg(logdir)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg(format!("--load_fast={load_fast}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting TensorBoard with {}: {e}", python.display()));
        Server { child, port, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asks until `ready` accepts the (status 200) body: the server loads
    /// in the background. Fails past [`READY_WITHIN`], showing the last
    /// answer and the server's log.
    fn until(
        &mut self,
        method: &str,
        path: &str,
        json: Option<&Json>,
        ready: impl Fn(&[u8]) -> bool,
    ) -> Vec<u8> {
        let deadline = Instant::now() + READY_WITHIN;
        let body = json.map(Json::to_string);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("TensorBoard exited ({status}):\n{}", self.log());
            }
            let last = match request(self.port, method, path, body.as_deref()) {
                Ok(r) if r.status == 200 && ready(&r.body) => return r.body,
                Ok(r) => format!("status {}: {}", r.status, String::from_utf8_lossy(&r.body)),
                Err(e) => e,
            };
            assert!(
                Instant::now() < deadline,
                "{path}: not ready within {READY_WITHIN:?}; last answer: {last}\nserver log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The JSON at `path` once `ready` accepts it.
    fn json(&mut self, path: &str, ready: impl Fn(&Json) -> bool) -> Json {
        let body = self.until("GET", path, None, |b| {
            serde_json::from_slice::<Json>(b).is_ok_and(|j| ready(&j))
        });
        serde_json::from_slice(&body).unwrap()
    }

    fn post(&mut self, path: &str, body: &Json, ready: impl Fn(&Json) -> bool) -> Json {
        let body = self.until("POST", path, Some(body), |b| {
            serde_json::from_slice::<Json>(b).is_ok_and(|j| ready(&j))
        });
        serde_json::from_slice(&body).unwrap()
    }

    fn bytes(&mut self, path: &str) -> Vec<u8> {
        self.until("GET", path, None, |b| !b.is_empty())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const RUN: &str = "seed-1";

fn check_every_dashboard(server: &mut Server) {
    let steps = all_dashboards::STEPS as usize;

    // Scalars: both runs, add_scalars' series in the run itself.
    let tags = server.json("/data/plugin/scalars/tags", |j| {
        ["seed-1", "seed-2"]
            .iter()
            .all(|r| j[r].get("margin/acc_high").is_some())
    });
    for tag in [
        "loss",
        "accuracy/train",
        "accuracy/test",
        "margin/acc",
        "margin/acc_low",
    ] {
        assert!(tags[RUN].get(tag).is_some(), "scalar {tag} missing: {tags}");
    }
    let loss = server.json("/data/plugin/scalars/scalars?run=seed-1&tag=loss", |j| {
        j.is_array()
    });
    let points = loss.as_array().unwrap();
    assert_eq!(points.len(), steps, "{loss}");
    assert_eq!(points[3][1], json!(3));
    let first = points[0][2].as_f64().unwrap();
    assert!((2.0..2.06).contains(&first), "loss at step 0: {first}");

    // Histograms and distributions of the 10,000 normal values.
    let hist = server.json(
        "/data/plugin/histograms/histograms?run=seed-1&tag=weights",
        |j| j.as_array().is_some_and(|a| a.len() == 5),
    );
    let buckets = hist[0][2].as_array().unwrap();
    let total: f64 = buckets.iter().map(|b| b[2].as_f64().unwrap()).sum();
    assert!((total - 10_000.0).abs() < 1e-6, "histogram counts {total}");
    let dist = server.json(
        "/data/plugin/distributions/distributions?run=seed-1&tag=weights",
        |j| j.as_array().is_some_and(|a| a.len() == 5),
    );
    let median = dist[0][2][4][1].as_f64().unwrap();
    assert!(median.abs() < 0.1, "median {median}: {dist}");

    // Images: a PNG per tag, of the grid's size for the batch.
    let images = server.json("/data/plugin/images/tags", |j| {
        j[RUN].get("digits").is_some()
    });
    assert!(images[RUN].get("gradient").is_some(), "{images}");
    for (tag, width, height) in [("gradient", 96, 64), ("digits", 8 * 28, 2 * 28)] {
        let list = server.json(
            &format!("/data/plugin/images/images?run={RUN}&tag={tag}"),
            |j| j.as_array().is_some_and(|a| !a.is_empty()),
        );
        let query = list[0]["query"].as_str().unwrap();
        let png = server.bytes(&format!("/data/plugin/images/individualImage?{query}"));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{tag}");
        let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        assert_eq!(
            (size(16), size(20)),
            (width, height),
            "{tag}: IHDR width, height"
        );
    }

    // Audio: the WAV clip itself.
    let audio = server.json(
        &format!("/data/plugin/audio/audio?run={RUN}&tag=tone"),
        |j| j.as_array().is_some_and(|a| !a.is_empty()),
    );
    assert_eq!(audio[0]["contentType"], "audio/wav");
    let query = audio[0]["query"].as_str().unwrap();
    let wav = server.bytes(&format!("/data/plugin/audio/individualAudio?{query}"));
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(wav.len(), 44 + 8000 * 2);

    // Text: the markdown table rendered.
    let text = server.json(
        &format!("/data/plugin/text/text?run={RUN}&tag=notes"),
        |j| j.as_array().is_some_and(|a| !a.is_empty()),
    );
    let html = text[0]["text"].as_str().unwrap();
    assert!(html.contains("<td><code>add_scalar</code></td>"), "{html}");

    // PR curves: three steps of 127 thresholds, precision rising.
    let pr = server.json(
        &format!("/data/plugin/pr_curves/pr_curves?run={RUN}&tag=classifier"),
        |j| j[RUN].as_array().is_some_and(|a| a.len() == 3),
    );
    let curves = pr[RUN].as_array().unwrap();
    for (step, curve) in curves.iter().enumerate() {
        assert_eq!(curve["step"], json!(step));
        assert_eq!(curve["precision"].as_array().unwrap().len(), 127);
        assert_eq!(
            curve["recall"][0],
            json!(1.0),
            "all positives found at threshold 0"
        );
    }
    let mid = |c: &Json| c["precision"][63].as_f64().unwrap();
    assert!(mid(&curves[2]) > mid(&curves[0]), "{pr}");

    // The Projector: config, tensor (60 x 5 float32), labels, sprite.
    let runs = server.json("/data/plugin/projector/runs", |j| {
        j.as_array().is_some_and(|a| !a.is_empty())
    });
    assert_eq!(runs, json!([RUN]));
    let info = server.json(&format!("/data/plugin/projector/info?run={RUN}"), |j| {
        j.get("embeddings").is_some()
    });
    let embedding = &info["embeddings"][0];
    assert_eq!(embedding["tensorName"], "clusters:00000");
    assert_eq!(embedding["tensorShape"], json!([60, 5]));
    assert_eq!(embedding["sprite"]["singleImageDim"], json!([8, 8]));
    let name = encode("clusters:00000");
    let tensor = server.bytes(&format!(
        "/data/plugin/projector/tensor?run={RUN}&name={name}"
    ));
    assert_eq!(tensor.len(), 60 * 5 * 4);
    let metadata = server.bytes(&format!(
        "/data/plugin/projector/metadata?run={RUN}&name={name}"
    ));
    assert!(String::from_utf8_lossy(&metadata).starts_with("red\ngreen\nblue\n"));
    let sprite = server.bytes(&format!(
        "/data/plugin/projector/sprite_image?run={RUN}&name={name}"
    ));
    assert_eq!(&sprite[..4], b"\x89PNG");

    // Custom scalars: the caller's category, then add_scalars' chart; its
    // pattern finds both series.
    let layout = server.json("/data/plugin/custom_scalars/layout", |j| {
        j.get("category").is_some()
    });
    let titles: Vec<&str> = layout["category"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["training", "accuracy"], "{layout}");
    assert_eq!(
        layout["category"][0]["chart"][1]["margin"]["series"][0]["upper"],
        "margin/acc_high"
    );
    let pattern = layout["category"][1]["chart"][0]["multiline"]["tag"][0]
        .as_str()
        .unwrap()
        .to_string();
    let found = server.json(
        &format!(
            "/data/plugin/custom_scalars/scalars?run={RUN}&tag={}",
            encode(&pattern)
        ),
        |j| j["regex_valid"] == json!(true),
    );
    let mut series: Vec<&String> = found["tag_to_events"].as_object().unwrap().keys().collect();
    series.sort();
    assert_eq!(series, ["accuracy/test", "accuracy/train"], "{found}");
    assert_eq!(
        found["tag_to_events"]["accuracy/test"]
            .as_array()
            .unwrap()
            .len(),
        steps
    );

    // HParams: the two seeds in one session group, each with its metric.
    let experiment = server.post(
        "/data/plugin/hparams/experiment",
        &json!({"experimentName": "", "hparamsLimit": 1000}),
        |j| j.get("hparamInfos").is_some(),
    );
    let mut names: Vec<&str> = experiment["hparamInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["lr", "optimizer", "residual", "seed"],
        "{experiment}"
    );
    let mut columns: Vec<Json> = names
        .iter()
        .map(|h| json!({"hparam": h, "includeInResult": true}))
        .collect();
    columns.push(json!({"metric": {"group": "", "tag": "final_loss"}, "includeInResult": true}));
    let groups = server.post(
        "/data/plugin/hparams/session_groups",
        &json!({
            "experimentName": "",
            "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
            "colParams": columns,
            "startIndex": 0,
            "sliceSize": 100,
        }),
        |j| j["sessionGroups"][0]["sessions"].as_array().is_some_and(|s| s.len() == 2),
    );
    let group = &groups["sessionGroups"][0];
    assert_eq!(
        groups["sessionGroups"].as_array().unwrap().len(),
        1,
        "{groups}"
    );
    assert_eq!(group["name"], "optimizer=adam, lr=0.001, residual=true");
    assert_eq!(group["hparams"]["optimizer"], "adam");
    assert_eq!(group["hparams"]["residual"], json!(true));
    for session in group["sessions"].as_array().unwrap() {
        let seed: f64 = if session["name"] == "seed-1" {
            1.0
        } else {
            2.0
        };
        let metric = &session["metricValues"][0];
        assert_eq!(metric["name"]["tag"], "final_loss");
        assert_eq!(metric["trainingStep"], json!(steps - 1));
        let value = metric["value"].as_f64().unwrap();
        assert!((value - (0.15 + seed * 0.01)).abs() < 1e-6, "{session}");
        assert_eq!(session["status"], "STATUS_SUCCESS");
    }

    // Graphs: the run graph, node by node.
    let graphs = server.json("/data/plugin/graphs/info", |j| j.get(RUN).is_some());
    assert_eq!(graphs[RUN]["run_graph"], json!(true), "{graphs}");
    let pbtxt = server.bytes(&format!("/data/plugin/graphs/graph?run={RUN}"));
    let pbtxt = String::from_utf8_lossy(&pbtxt);
    for node in [
        "input",
        "layer1/MatMul",
        "layer1/Relu",
        "layer2/MatMul",
        "softmax",
    ] {
        assert!(
            pbtxt.contains(&format!("name: \"{node}\"")),
            "graph lacks {node}"
        );
    }

    // Every dashboard active (the Projector finds its config in the
    // background, so ask until it has).
    const PLUGINS: [&str; 11] = [
        "scalars",
        "histograms",
        "distributions",
        "images",
        "audio",
        "text",
        "pr_curves",
        "projector",
        "custom_scalars",
        "hparams",
        "graphs",
    ];
    server.json("/data/plugins_listing", |j| {
        PLUGINS.iter().all(|p| j[p]["enabled"] == json!(true))
    });
}

#[test]
fn tensorboard_serves_every_kind_the_writer_writes_with_both_loaders() {
    let Some(python) = tensorboard_python() else {
        return; // tensorboard_python() said why
    };
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("logs");
    all_dashboards::write_all(&logdir).unwrap();
    for load_fast in [false, true] {
        eprintln!("TensorBoard with --load_fast={load_fast}");
        let log = dir
            .path()
            .join(format!("tensorboard-load_fast={load_fast}.log"));
        let mut server = Server::start(&python, &logdir, load_fast, log);
        check_every_dashboard(&mut server);
    }
}
