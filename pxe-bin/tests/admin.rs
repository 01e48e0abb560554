//! The admin listener: `/metrics` parses with the Prometheus reference parser and its counters
//! match a run's known traffic; `/api/status` lists the failures with their fix; the status
//! page is served whole (no external asset); `pxe leases` reads a lease file.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use support::files::{random_file, write_file};
use support::metrics::{http_get, scrape};
use support::pxe::Pxe;
use support::tools::{pxe, stdout};

#[test]
fn metrics_count_a_known_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    random_file(&root.join("big.bin"), 100_000, 1);
    write_file(&root.join("hello.txt"), "hello\n");
    write_file(&root.join("private.key"), "secret\n");
    std::fs::set_permissions(
        root.join("private.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    let conf = dir.path().join("pxe.toml");
    write_file(&conf, "[admin]\nlisten = \"127.0.0.1:0\"\n");
    let p = Pxe::start(&[
        "serve",
        "--config",
        conf.to_str().expect("utf-8"),
        "--root",
        root.to_str().expect("utf-8"),
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ]);
    let admin = p.listening("admin", Duration::from_secs(5));
    let http = p.listening("HTTP", Duration::from_secs(5));

    // Known traffic: 3 TFTP downloads (300 000 bytes), a missing file, a private file;
    // 2 HTTP downloads (100 006 bytes) and a 404.
    // (Never `-o /dev/null`: pxe get replaces its output by rename.)
    let sink = dir.path().join("out.bin");
    let sink = sink.to_str().expect("utf-8");
    for _ in 0..3 {
        let out = pxe(&["get", &p.url("big.bin"), "-o", sink]);
        assert!(out.status.success(), "{}", p.log());
    }
    assert!(
        !pxe(&["get", &p.url("nope.bin"), "-o", sink])
            .status
            .success()
    );
    assert!(
        !pxe(&["get", &p.url("private.key"), "-o", sink])
            .status
            .success()
    );
    assert_eq!(http_get(http, "/big.bin").0, 200);
    assert_eq!(http_get(http, "/hello.txt").0, 200);
    assert_eq!(http_get(http, "/missing").0, 404);
    std::thread::sleep(Duration::from_millis(300));

    let m = scrape(admin);
    let get = |k: &str| {
        m.get(k)
            .copied()
            .unwrap_or_else(|| panic!("no {k} in {m:#?}"))
    };
    assert_eq!(
        get(r#"pxe_transfers_total{protocol="tftp",result="completed"}"#),
        3.0
    );
    assert_eq!(
        get(r#"pxe_transfers_total{protocol="tftp",result="refused"}"#),
        2.0
    );
    assert_eq!(
        get(r#"pxe_transfers_total{protocol="http",result="completed"}"#),
        2.0
    );
    assert_eq!(
        get(r#"pxe_transfers_total{protocol="http",result="refused"}"#),
        1.0
    );
    assert_eq!(
        get(r#"pxe_transfer_bytes_total{protocol="tftp"}"#),
        300_000.0
    );
    assert_eq!(
        get(r#"pxe_transfer_bytes_total{protocol="http"}"#),
        100_006.0
    );
    assert_eq!(
        get(r#"pxe_requests_refused_total{protocol="tftp",reason="not_found"}"#),
        1.0
    );
    assert_eq!(
        get(r#"pxe_requests_refused_total{protocol="tftp",reason="permission"}"#),
        1.0
    );
    assert_eq!(get(r#"pxe_http_requests_total{status="200"}"#), 2.0);
    assert_eq!(get(r#"pxe_http_requests_total{status="404"}"#), 1.0);
    assert_eq!(get(r#"pxe_transfers_active{protocol="tftp"}"#), 0.0);
    assert_eq!(get(r#"pxe_tftp_retransmits_total{}"#), 0.0);
    assert_eq!(get(r#"pxe_events_lost_total{}"#), 0.0);

    // The status API names the private file's fix; the page needs nothing from elsewhere.
    let (status, json) = http_get(admin, "/api/status");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let failures = v["failures"].as_array().expect("failures");
    let private = failures
        .iter()
        .find(|f| f["file"] == "private.key")
        .expect("the private file's failure");
    assert!(
        private["fix"]
            .as_str()
            .is_some_and(|f| f.contains("chmod o+r")),
        "{private}"
    );
    let (status, page) = http_get(admin, "/");
    assert_eq!(status, 200);
    assert!(page.contains("Clients booting now") && page.contains("api/status"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "external asset"
    );
}

#[test]
fn leases_lists_a_lease_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("leases.json");
    let far = 4_102_444_800_000_000u64; // 2100-01-01, in microseconds
    // A journal (`pxe-leases/2`): a snapshot of two, then a change to the first address.
    write_file(
        &file,
        &format!(
            "{{\"format\":\"pxe-leases/2\",\"snapshot\":2}}\n\
             {{\"ip\":\"10.0.0.7\",\"mac\":\"52:54:00:00:00:07\",\"state\":\"offered\",\"expires\":{{\"micros\":{far}}}}}\n\
             {{\"ip\":\"10.0.0.8\",\"mac\":\"52:54:00:00:00:08\",\"state\":\"released\",\"expires\":{{\"micros\":{far}}}}}\n\
             {{\"ip\":\"10.0.0.7\",\"mac\":\"52:54:00:00:00:07\",\"state\":\"bound\",\"expires\":{{\"micros\":{far}}}}}\n"
        ),
    );
    let out = pxe(&["leases", "--leases", file.to_str().expect("utf-8")]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows[0].contains("10.0.0.7")
            && rows[0].contains("52:54:00:00:00:07")
            && rows[0].contains("bound"),
        "the journal's last record wins: {text}"
    );
    assert!(
        rows[1].contains("10.0.0.8") && rows[1].contains("released"),
        "{text}"
    );
}
