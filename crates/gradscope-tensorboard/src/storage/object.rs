//! Object storage through the `object_store` crate, driven from sync code:
//! each call runs its request on one small tokio runtime shared by the
//! process and waits for the answer on a channel (so it works from any
//! thread, an async one included, without nesting runtimes).
//!
//! One client per bucket is built on first use and kept: its connections
//! are reused by every writer and reader of the process. A bucket that has
//! answered once is not checked again ([`check`]).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::path::Path as Key;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, ObjectStoreExt, RetryConfig};

/// Client settings used unless the environment sets them
/// (`AWS_CONNECT_TIMEOUT`, ...): an endpoint that does not answer is an
/// error within seconds rather than a hang.
const CLIENT_DEFAULTS: [(ClientConfigKey, &str); 2] = [
    (ClientConfigKey::ConnectTimeout, "5s"),
    (ClientConfigKey::Timeout, "30s"),
];

/// Failed requests (connection errors, 5xx, throttling) are retried with
/// exponential back-off from 100 ms, at most this many times and for at most
/// [`RETRY_FOR`]. A refused connection fails within about a second.
const RETRIES: usize = 5;
const RETRY_FOR: Duration = Duration::from_secs(30);

/// An event file written as a numbered series of objects, each a complete
/// TFRecord stream: `<stem>.<nonce>.<part><suffix>`, parts numbered from 0
/// with eight digits so that name order is write order (TensorBoard reads a
/// run's files in name order). The nonce (random, per writer) keeps two
/// processes with the same host name, pid and start second (containers
/// started together) from overwriting each other's objects.
pub(crate) struct ObjectSeries {
    store: Arc<dyn ObjectStore>,
    root: String,
    /// The key up to the part number.
    stem: String,
    suffix: String,
    next: u64,
}

impl ObjectSeries {
    /// A series named `<stem>.<nonce>.<part><suffix>` under the prefix of
    /// the URL `dir`, once [`check`] found the bucket; nothing is written
    /// yet. Returns the URL of its first object, and the series.
    pub(crate) fn create(
        dir: &str,
        stem: &str,
        suffix: &str,
    ) -> io::Result<(PathBuf, ObjectSeries)> {
        check(dir)?;
        ObjectSeries::new(dir, stem, suffix)
    }

    /// [`ObjectSeries::create`] without the check.
    fn new(dir: &str, stem: &str, suffix: &str) -> io::Result<(PathBuf, ObjectSeries)> {
        let location = Location::of(dir)?;
        let nonce = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish() as u32;
        let name = format!("{stem}.{nonce:08x}");
        let stem = match location.key.as_ref() {
            "" => name,
            prefix => format!("{prefix}/{name}"),
        };
        let series = ObjectSeries {
            store: location.store,
            root: location.root,
            stem,
            suffix: suffix.to_string(),
            next: 0,
        };
        Ok((series.url(&series.key(0)), series))
    }

    /// Writes `records` as the next object, in one PUT: it becomes visible
    /// whole or not at all.
    pub(crate) fn put(&mut self, records: Vec<u8>) -> io::Result<()> {
        let key = self.key(self.next);
        let url = self.url(&key);
        let key = parse_key(url.display(), &key)?;
        let store = Arc::clone(&self.store);
        block_on(async move { store.put(&key, records.into()).await })?
            .map_err(|e| describe(&url.display().to_string(), e))?;
        reached().insert(self.root.clone());
        self.next += 1;
        Ok(())
    }

    fn key(&self, part: u64) -> String {
        format!("{}.{part:0PART_DIGITS$}{}", self.stem, self.suffix)
    }

    fn url(&self, key: &str) -> PathBuf {
        PathBuf::from(format!("{}/{key}", self.root))
    }
}

/// The digits of a part number: name order stays write order for 10^8
/// parts (three years of one a second).
const PART_DIGITS: usize = 8;

/// Whether `other` is a later part of the series whose first object is
/// `first` (both URLs): `<name>.<part><suffix>` where `first` has part 0.
pub(super) fn is_later_part(first: &str, other: &str) -> bool {
    let zero = format!(".{:0PART_DIGITS$}", 0);
    let Some(at) = first.rfind(&zero) else {
        return false;
    };
    let (name, suffix) = (&first[..at + 1], &first[at + zero.len()..]);
    let part = other
        .strip_prefix(name)
        .and_then(|rest| rest.strip_suffix(suffix));
    part.is_some_and(|p| {
        p.len() == PART_DIGITS && p.bytes().all(|b| b.is_ascii_digit()) && p != &zero[1..]
    })
}

/// Buckets (`scheme://bucket`) that answered a request of this process.
static REACHED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

fn reached() -> std::sync::MutexGuard<'static, HashSet<String>> {
    (REACHED.get_or_init(Default::default).lock()).unwrap_or_else(|e| e.into_inner())
}

/// Lists at most one object under the prefix, the first time this process
/// reaches the bucket: fails if the bucket is missing, the credentials are
/// refused or the endpoint does not answer. Once a bucket answered, a
/// check costs no request (a training run checks its logdir, then creates
/// a writer per run).
pub(super) fn check(url: &str) -> io::Result<()> {
    let Location { store, key, root } = Location::of(url)?;
    if reached().contains(&root) {
        return Ok(());
    }
    let first = block_on(async move {
        let prefix = (!key.as_ref().is_empty()).then_some(&key);
        store.list(prefix).next().await.transpose()
    })?;
    first.map_err(|e| describe(url, e))?;
    reached().insert(root);
    Ok(())
}

pub(super) fn exists(url: &str) -> io::Result<bool> {
    let Location { store, key, .. } = Location::of(url)?;
    match block_on(async move { store.head(&key).await })? {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(describe(url, e)),
    }
}

pub(super) fn list(url: &str) -> io::Result<Vec<PathBuf>> {
    let Location { store, key, root } = Location::of(url)?;
    let listed = block_on(async move {
        let prefix = (!key.as_ref().is_empty()).then_some(&key);
        let mut objects = store.list(prefix);
        let mut keys = Vec::new();
        while let Some(meta) = objects.next().await {
            keys.push(meta?.location.to_string());
        }
        Ok(keys)
    })?;
    let keys = listed.map_err(|e| describe(url, e))?;
    Ok(keys
        .into_iter()
        .map(|key| PathBuf::from(format!("{root}/{key}")))
        .collect())
}

pub(super) fn read(url: &str) -> io::Result<Vec<u8>> {
    let Location { store, key, .. } = Location::of(url)?;
    let read = block_on(async move { store.get(&key).await?.bytes().await })?;
    read.map(|bytes| bytes.to_vec())
        .map_err(|e| describe(url, e))
}

pub(super) fn write(url: &str, bytes: Vec<u8>) -> io::Result<()> {
    let Location { store, key, .. } = Location::of(url)?;
    block_on(async move { store.put(&key, bytes.into()).await })?
        .map(drop)
        .map_err(|e| describe(url, e))
}

pub(super) fn remove(url: &str) -> io::Result<()> {
    let Location { store, key, .. } = Location::of(url)?;
    block_on(async move { store.delete(&key).await })?.map_err(|e| describe(url, e))
}

/// A URL split into its bucket's store and the key after it.
struct Location {
    store: Arc<dyn ObjectStore>,
    /// `scheme://bucket`, what the keys are relative to.
    root: String,
    key: Key,
}

impl Location {
    fn of(url: &str) -> io::Result<Location> {
        let invalid =
            |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: {what}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("not a URL"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid("names no bucket: give scheme://bucket/prefix"));
        }
        let root = format!("{scheme}://{bucket}");
        let key = parse_key(url, key.trim_end_matches('/'))?;
        Ok(Location {
            store: store(scheme, &root).map_err(|e| invalid(&e))?,
            root,
            key,
        })
    }
}

fn parse_key(url: impl std::fmt::Display, key: &str) -> io::Result<Key> {
    Key::parse(key).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{url}: not a valid object key ({e})"),
        )
    })
}

/// The store of the bucket `root` (`scheme://bucket`), built on first use.
fn store(scheme: &str, root: &str) -> Result<Arc<dyn ObjectStore>, String> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> = OnceLock::new();
    let mut stores = STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(store) = stores.get(root) {
        return Ok(Arc::clone(store));
    }
    // reqwest's rustls needs a process-wide crypto provider; ring is the one
    // built in. An application that installed another keeps it. rustls
    // deprecates ring's provider for its lack of post-quantum key exchange;
    // the provider that has it, aws-lc-rs, is a C build needing cmake, which
    // this crate keeps out of its users' builds.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: RETRIES,
        retry_timeout: RETRY_FOR,
    };
    let built: object_store::Result<Arc<dyn ObjectStore>> = match scheme {
        "s3" | "s3a" => {
            let mut builder = AmazonS3Builder::from_env().with_url(root);
            for (key, value) in CLIENT_DEFAULTS {
                let key = AmazonS3ConfigKey::Client(key);
                if builder.get_config_value(&key).is_none() {
                    builder = builder.with_config(key, value);
                }
            }
            builder.with_retry(retry).build().map(|s| Arc::new(s) as _)
        }
        "gs" => {
            let mut builder = GoogleCloudStorageBuilder::from_env().with_url(root);
            for (key, value) in CLIENT_DEFAULTS {
                let key = GoogleConfigKey::Client(key);
                if builder.get_config_value(&key).is_none() {
                    builder = builder.with_config(key, value);
                }
            }
            builder.with_retry(retry).build().map(|s| Arc::new(s) as _)
        }
        "az" | "azure" | "abfs" | "abfss" => {
            let mut builder = MicrosoftAzureBuilder::from_env().with_url(root);
            for (key, value) in CLIENT_DEFAULTS {
                let key = AzureConfigKey::Client(key);
                if builder.get_config_value(&key).is_none() {
                    builder = builder.with_config(key, value);
                }
            }
            builder.with_retry(retry).build().map(|s| Arc::new(s) as _)
        }
        other => {
            return Err(format!(
                "the scheme {other}:// is not an object store this build knows: use s3:// \
                 (or s3a://), gs://, or az:// (azure://, abfs://, abfss://)"
            ))
        }
    };
    let store = built.map_err(|e| format!("cannot set up the client: {e}"))?;
    stores.insert(root.to_string(), Arc::clone(&store));
    Ok(store)
}

/// Runs `future` on the shared runtime and waits for its output.
fn block_on<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> io::Result<T> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("object-store")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    let runtime = runtime.as_ref().map_err(|e| {
        io::Error::other(format!(
            "cannot start the object-storage client's runtime: {e}"
        ))
    })?;
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = sender.send(future.await);
    });
    receiver
        .recv()
        .map_err(|_| io::Error::other("the object-storage request stopped without an answer"))
}

/// `error` about `url`, with what to check for the usual causes. A missing
/// bucket is told apart by S3's error code: listing one gives a 404 that
/// `object_store` reports as a generic error.
fn describe(url: &str, error: object_store::Error) -> io::Error {
    use object_store::Error;
    let text = error.to_string();
    let (kind, hint) = match &error {
        _ if text.contains("NoSuchBucket") => (
            io::ErrorKind::NotFound,
            "bucket not found: create it, or check its name (and for s3://, \
             AWS_ENDPOINT_URL and AWS_REGION)",
        ),
        Error::NotFound { .. } => (io::ErrorKind::NotFound, "not found"),
        Error::PermissionDenied { .. } | Error::Unauthenticated { .. } => (
            io::ErrorKind::PermissionDenied,
            "access refused: check the credentials (for s3://, AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY; gs://, GOOGLE_SERVICE_ACCOUNT; az://, \
             AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY)",
        ),
        // Without credentials in the environment, the client asks the cloud
        // machine's metadata service, which exists only there.
        _ if text.contains("169.254.169.254") => (
            io::ErrorKind::PermissionDenied,
            "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (outside \
             the cloud, where no instance metadata service gives them)",
        ),
        _ => (
            io::ErrorKind::Other,
            "the store did not accept the request (for s3://, is AWS_ENDPOINT_URL right \
             and the endpoint reachable? plain http:// also needs AWS_ALLOW_HTTP=true)",
        ),
    };
    io::Error::new(kind, format!("{url}: {hint}: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_a_bucket_of_a_known_scheme_and_a_valid_key() {
        let err = |url: &str| Location::of(url).err().unwrap().to_string();
        assert!(
            err("s3:///exp").contains("names no bucket"),
            "{}",
            err("s3:///exp")
        );
        assert!(
            err("ftp://host/x").contains("ftp://"),
            "{}",
            err("ftp://host/x")
        );
        assert!(err("s3://b/a//c").contains("not a valid object key"));
        let location = Location::of("s3://bucket/exp/run/").unwrap();
        assert_eq!(location.root, "s3://bucket");
        assert_eq!(location.key.as_ref(), "exp/run");
        assert_eq!(Location::of("gs://bucket").unwrap().key.as_ref(), "");
    }

    #[test]
    fn parts_are_named_in_write_order() {
        let (first, series) =
            ObjectSeries::new("s3://bucket/exp/run", "events.out.tfevents.1.h.2.0", ".v2").unwrap();
        let first = first.display().to_string();
        assert!(first.starts_with("s3://bucket/exp/run/events.out.tfevents.1.h.2.0."));
        assert!(first.ends_with(".00000000.v2"), "{first}");
        let keys: Vec<String> = [0, 9, 10, 11, 99_999_999].map(|n| series.key(n)).into();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, keys);
        // Two writers with the same stem get different nonces.
        let (other, _) =
            ObjectSeries::new("s3://bucket/exp/run", "events.out.tfevents.1.h.2.0", ".v2").unwrap();
        assert_ne!(other.display().to_string(), first);
        // Later parts are told from other series' objects.
        let url = |key: &str| format!("s3://bucket/{key}");
        assert!(is_later_part(&first, &url(&series.key(1))));
        assert!(is_later_part(&first, &url(&series.key(12))));
        assert!(!is_later_part(&first, &first));
        assert!(!is_later_part(&first, &other.display().to_string()));
        assert!(!is_later_part(
            &first,
            &url(&series.key(1)).replace(".v2", "")
        ));
    }
}
