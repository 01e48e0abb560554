//! `[decide] url` against a small HTTP service started here on loopback: good answers, a
//! service that is slow, one that is down, one that answers garbage, and the cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pxe_dhcp::pxe::Firmware;
use pxe_proto::MacAddr;
use pxe_server::decide::{Boot, Client, Decide, DecideConfig, Decision, HttpDecider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the service does with every request.
#[derive(Clone, Copy)]
enum Mode {
    /// 200 with a kernel answer for 52:54:00:00:00:01, 404 for others.
    Good,
    /// Waits 2 s, then answers like `Good`.
    Slow,
    /// 200 with a body that is not JSON.
    Garbage,
    /// 500.
    Broken,
}

/// Starts the service; returns its URL and a request counter. The task ends with the runtime.
async fn service(mode: Mode) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let request = read_request(&mut s).await;
                seen.fetch_add(1, Ordering::SeqCst);
                let (status, body) = match mode {
                    Mode::Good | Mode::Slow => {
                        if matches!(mode, Mode::Slow) {
                            tokio::time::sleep(Duration::from_secs(2)).await;
                        }
                        if request.contains("\"mac\":\"52:54:00:00:00:01\"") {
                            (
                                "200 OK",
                                r#"{"name":"lab-1","kernel":"linux","initrd":["initrd.gz"],"cmdline":"console=ttyS0"}"#,
                            )
                        } else {
                            ("404 Not Found", "")
                        }
                    }
                    Mode::Garbage => ("200 OK", "<html>hello</html>"),
                    Mode::Broken => ("500 Internal Server Error", "oops"),
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}/boot"), count)
}

/// Reads one request (headers and a Content-Length body) as text.
async fn read_request(s: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn decider(url: &str, timeout_ms: u64, cache_secs: u64) -> HttpDecider {
    let mut c: DecideConfig = toml::from_str(&format!("url = \"{url}\"")).expect("config");
    c.timeout_ms = Some(timeout_ms);
    c.cache_secs = Some(cache_secs);
    HttpDecider::new(&c).expect("decider")
}

fn client(last: u8) -> Client {
    let mut c = Client::new(MacAddr([0x52, 0x54, 0, 0, 0, last]), Firmware::Ipxe);
    c.arch = Some(7);
    c.user_class = Some("iPXE".into());
    c
}

fn lab_1() -> Decision {
    Decision::Boot(Boot::kernel("linux", &["initrd.gz"], "console=ttyS0").named("lab-1"))
}

#[tokio::test]
async fn answers_are_decisions_and_cached() {
    let (url, count) = service(Mode::Good).await;
    let d = decider(&url, 2000, 60);
    assert_eq!(d.decide(&client(1)).await, lab_1());
    // Unknown to the service: no reply for this machine, as in Pixiecore's API.
    assert_eq!(d.decide(&client(2)).await, Decision::Ignore);
    assert_eq!(d.decide(&client(1)).await, lab_1());
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "the second ask comes from the cache"
    );
    let uncached = decider(&url, 2000, 0);
    uncached.decide(&client(1)).await;
    uncached.decide(&client(1)).await;
    assert_eq!(count.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_slow_service_falls_back_to_the_static_rules_in_time() {
    let (url, _) = service(Mode::Slow).await;
    let d = decider(&url, 300, 60);
    let start = Instant::now();
    assert_eq!(d.decide(&client(1)).await, Decision::Default);
    let took = start.elapsed();
    assert!(took < Duration::from_millis(1500), "waited {took:?}");
    // The fallback is cached too: a slow service costs one timeout per machine per period.
    let start = Instant::now();
    assert_eq!(d.decide(&client(1)).await, Decision::Default);
    assert!(start.elapsed() < Duration::from_millis(100));
    // Given enough time, the same service answers.
    let patient = decider(&url, 5000, 0);
    assert_eq!(patient.decide(&client(1)).await, lab_1());
}

#[tokio::test]
async fn a_service_that_is_down_falls_back_to_the_static_rules() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let d = decider(&format!("http://127.0.0.1:{port}/boot"), 2000, 0);
    let start = Instant::now();
    assert_eq!(d.decide(&client(1)).await, Decision::Default);
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn garbage_and_errors_fall_back_to_the_static_rules() {
    let (url, count) = service(Mode::Garbage).await;
    assert_eq!(
        decider(&url, 2000, 0).decide(&client(1)).await,
        Decision::Default
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let (url, _) = service(Mode::Broken).await;
    assert_eq!(
        decider(&url, 2000, 0).decide(&client(1)).await,
        Decision::Default
    );
}
