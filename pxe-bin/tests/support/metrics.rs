//! `/metrics` scraped from the admin listener and parsed by the reference Prometheus
//! text-format parser (python3-prometheus-client's `text_string_to_metric_families`), so a
//! format error fails the test rather than being read past.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

use super::tools::require;

/// `GET path` over HTTP/1.0; the status and the body (as text, lossily).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the admin listener");
    write!(s, "GET {path} HTTP/1.0\r\nHost: pxe\r\n\r\n").expect("send request");
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).expect("read response");
    let all = String::from_utf8_lossy(&bytes);
    let (head, body) = all.split_once("\r\n\r\n").expect("a header block");
    let status = head[9..12].parse().expect("a status code");
    (status, body.to_owned())
}

/// Every sample of `text` as `name{label="v",...}` (labels sorted) → value.
pub fn parse(text: &str) -> BTreeMap<String, f64> {
    // Debian's interpreter, where apt puts python3-prometheus-client (not a pyenv shim).
    require("/usr/bin/python3", "python3");
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
        print("%s{%s} %r" % (s.name, labels, s.value))
"#;
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write metrics");
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "the Prometheus parser rejected /metrics (is python3-prometheus-client installed?): {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').expect("name value");
            (k.to_owned(), v.parse().expect("a number"))
        })
        .collect()
}

/// Scrapes and parses `/metrics` at `addr`.
pub fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    parse(&body)
}
