//! `[decide] url`: ask an HTTP service what each machine boots, like Pixiecore's API mode.
//!
//! For each request the server POSTs the [`Client`] as JSON to `url`:
//!
//! ```json
//! {"mac": "52:54:00:12:34:56", "arch": 7, "arch_name": "x64 UEFI", "firmware": "pxe",
//!  "user_class": null, "vendor_class": "PXEClient:Arch:00007:UNDI:003016",
//!  "giaddr": null, "duid": null}
//! ```
//!
//! and reads the answer:
//! - `200` with a JSON object: `action` = `"boot"` (the default), `"ignore"` or `"default"`,
//!   and for `boot` any of `name`, `boot_file`, `next_server`, `script`, `kernel`, `initrd`
//!   (a list), `cmdline`, `menu_default` ([`Boot`]); unknown fields are ignored;
//! - `204`: no opinion, the static rules decide ([`Decision::Default`]);
//! - `404`: the service does not know the machine: it gets no reply ([`Decision::Ignore`]),
//!   as in Pixiecore's API.
//!
//! Anything else (no connection, no answer within `timeout_ms`, another status, a body that
//! is not such an object) falls back to the static rules, with a warning in the log. Answers
//! and fallbacks are cached per MAC for `cache_secs`, so a boot's several DHCP requests ask
//! once and a service that is down costs one timeout per machine per period. Plain `http://`
//! only.

use std::collections::HashMap;
use std::future::poll_fn;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::body::Body;
use hyper::header;
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use pxe_proto::MacAddr;
use serde::{Deserialize, Serialize};

use super::{Boot, Client, Decide, DecideFuture, Decision};

/// Default for `[decide] timeout_ms`.
pub const DEFAULT_TIMEOUT_MS: u64 = 2000;
/// Default for `[decide] cache_secs`.
pub const DEFAULT_CACHE_SECS: u64 = 10;
/// Largest answer read.
const MAX_ANSWER: usize = 256 << 10;

/// The `[decide]` table.
///
/// ```toml
/// [decide]
/// url = "http://127.0.0.1:8081/boot"
/// timeout_ms = 2000   # then the static rules answer
/// cache_secs = 10     # answers kept per MAC
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideConfig {
    /// The service's URL (`http://HOST[:PORT]/PATH`).
    pub url: String,
    /// How long to wait for an answer; default 2000 (`DEFAULT_TIMEOUT_MS`).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// How long an answer is kept; default 10 (`DEFAULT_CACHE_SECS`); 0 asks every time.
    #[serde(default)]
    pub cache_secs: Option<u64>,
}

/// A decider asking an HTTP service (module docs).
#[derive(Debug)]
pub struct HttpDecider {
    uri: Uri,
    host: String,
    port: u16,
    timeout: Duration,
    ttl: Duration,
    cache: Mutex<HashMap<MacAddr, (Instant, Decision)>>,
}

/// The JSON answer of a 200.
#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    action: Action,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    boot_file: Option<String>,
    #[serde(default)]
    next_server: Option<IpAddr>,
    #[serde(default)]
    script: Option<String>,
    #[serde(default)]
    kernel: Option<String>,
    #[serde(default)]
    initrd: Vec<String>,
    #[serde(default)]
    cmdline: Option<String>,
    #[serde(default)]
    menu_default: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Action {
    #[default]
    Boot,
    Ignore,
    Default,
}

impl HttpDecider {
    /// A decider for `config`; refuses a URL that is not `http://HOST[:PORT]/...`.
    pub fn new(config: &DecideConfig) -> Result<Self, String> {
        let bad = |why: &str| format!("[decide] url = \"{}\": {why}", config.url);
        let uri: Uri = config.url.parse().map_err(|e| bad(&format!("{e}")))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("only http:// URLs are supported"));
        }
        let host = uri.host().ok_or_else(|| bad("no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(80);
        Ok(Self {
            uri,
            host,
            port,
            timeout: Duration::from_millis(config.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)),
            ttl: Duration::from_secs(config.cache_secs.unwrap_or(DEFAULT_CACHE_SECS)),
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self, mac: MacAddr) -> Option<Decision> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain(|_, (at, _)| at.elapsed() < self.ttl);
        cache.get(&mac).map(|(_, d)| d.clone())
    }

    async fn ask(&self, client: &Client) -> Result<Decision, String> {
        let body = serde_json::to_string(client).map_err(|e| e.to_string())?;
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        let conn = tokio::spawn(conn);
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let authority = self.uri.authority().map_or("", |a| a.as_str());
        let req = Request::post(path)
            .header(header::HOST, authority)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(body)
            .map_err(|e| e.to_string())?;
        let result = async {
            let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let mut body = resp.into_body();
            let mut bytes = Vec::new();
            while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                let frame = frame.map_err(|e| e.to_string())?;
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                    if bytes.len() > MAX_ANSWER {
                        return Err(format!("answer over {MAX_ANSWER} bytes"));
                    }
                }
            }
            decision(status, &bytes)
        }
        .await;
        conn.abort();
        result
    }
}

/// The decision an answer carries.
fn decision(status: StatusCode, body: &[u8]) -> Result<Decision, String> {
    match status {
        StatusCode::OK => {}
        StatusCode::NO_CONTENT => return Ok(Decision::Default),
        StatusCode::NOT_FOUND => return Ok(Decision::Ignore),
        other => return Err(format!("status {other}")),
    }
    let a: Answer =
        serde_json::from_slice(body).map_err(|e| format!("answer is not a decision: {e}"))?;
    Ok(match a.action {
        Action::Ignore => Decision::Ignore,
        Action::Default => Decision::Default,
        Action::Boot => Decision::Boot(Boot {
            name: a.name,
            boot_file: a.boot_file,
            next_server: a.next_server,
            script: a.script,
            kernel: a.kernel,
            initrd: a.initrd,
            cmdline: a.cmdline,
            menu_default: a.menu_default,
        }),
    })
}

impl Decide for HttpDecider {
    fn decide<'a>(&'a self, client: &'a Client) -> DecideFuture<'a> {
        Box::pin(async move {
            if let Some(d) = self.cached(client.mac) {
                return d;
            }
            let d = match tokio::time::timeout(self.timeout, self.ask(client)).await {
                Ok(Ok(d)) => d,
                Ok(Err(e)) => {
                    tracing::warn!(mac = %client.mac, url = %self.uri, error = %e, "decide service failed: the static rules answer");
                    Decision::Default
                }
                Err(_) => {
                    tracing::warn!(mac = %client.mac, url = %self.uri, timeout_ms = self.timeout.as_millis(), "decide service did not answer in time: the static rules answer");
                    Decision::Default
                }
            };
            if !self.ttl.is_zero() {
                self.cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(client.mac, (Instant::now(), d.clone()));
            }
            d
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_decisions() {
        let ok = |b: &str| decision(StatusCode::OK, b.as_bytes());
        assert_eq!(
            ok(r#"{"kernel":"linux","initrd":["a","b"],"cmdline":"quiet","extra":1}"#),
            Ok(Decision::Boot(Boot {
                kernel: Some("linux".into()),
                initrd: vec!["a".into(), "b".into()],
                cmdline: Some("quiet".into()),
                ..Boot::default()
            }))
        );
        assert_eq!(ok(r#"{"action":"ignore"}"#), Ok(Decision::Ignore));
        assert_eq!(ok(r#"{"action":"default"}"#), Ok(Decision::Default));
        assert!(ok(r#"{"action":"reboot"}"#).is_err());
        assert!(ok("<html>").is_err());
        assert_eq!(decision(StatusCode::NO_CONTENT, b""), Ok(Decision::Default));
        assert_eq!(decision(StatusCode::NOT_FOUND, b""), Ok(Decision::Ignore));
        assert!(decision(StatusCode::INTERNAL_SERVER_ERROR, b"").is_err());
    }

    #[test]
    fn only_http_urls() {
        let cfg = |url: &str| DecideConfig {
            url: url.into(),
            timeout_ms: None,
            cache_secs: None,
        };
        assert!(HttpDecider::new(&cfg("https://x/boot")).is_err());
        assert!(HttpDecider::new(&cfg("not a url")).is_err());
        let d = HttpDecider::new(&cfg("http://[::1]:8081/boot?x=1")).unwrap();
        assert_eq!((d.host.as_str(), d.port), ("::1", 8081));
    }
}
