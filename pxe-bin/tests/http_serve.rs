//! `pxe serve --http` end to end with curl on loopback: bit-exact GET of a 64 MiB file, HEAD,
//! single ranges (first, middle, suffix, unsatisfiable), 404/403/405, path escapes (`..`,
//! `%2e%2e`, absolute names, symlinks out of the root, upload temporaries), the demo root over
//! HTTP, concurrent downloads, the connection cap, files changed between requests (the
//! open-file cache) and SIGTERM.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::files::{random_file, sha256_file};
use support::pxe::Pxe;
use support::tools::{require, run};

const T: Duration = Duration::from_secs(120);

/// `pxe serve ARGS... --listen 127.0.0.1:0 --http 127.0.0.1:0` and its HTTP address.
fn serve(args: &[&str]) -> (Pxe, SocketAddr) {
    require("curl", "curl");
    let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let server = Pxe::start(&all);
    let addr = server.listening("HTTP", T);
    (server, addr)
}

/// `curl -sS ARGS... http://ADDR{path}` with the status code on the last line of stdout
/// (`-w`), the body in `out`.
fn curl(addr: SocketAddr, path: &str, args: &[&str], out: &Path) -> (u16, Output) {
    let url = format!("http://{addr}{path}");
    let o = run(
        Command::new("curl")
            .args(["-sS", "--path-as-is", "-o"])
            .arg(out)
            .args(["-w", "%{http_code}"])
            .args(args)
            .arg(&url),
        T,
    );
    assert!(
        o.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let code = String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .expect("status");
    (code, o)
}

/// Response headers of `curl ARGS... URL` (`-D -`, body discarded), lower-cased.
fn headers(addr: SocketAddr, path: &str, args: &[&str]) -> String {
    let o = run(
        Command::new("curl")
            .args(["-sS", "--path-as-is", "-D", "-", "-o", "/dev/null"])
            .args(args)
            .arg(format!("http://{addr}{path}")),
        T,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_ascii_lowercase()
}

#[test]
fn get_head_and_ranges_of_a_64_mib_file() {
    let root = tempfile::tempdir().expect("tempdir");
    let len = 64 << 20;
    let sum = random_file(&root.path().join("big.bin"), len, 7);
    let data = std::fs::read(root.path().join("big.bin")).expect("read");
    let (server, addr) = serve(&["--root", root.path().to_str().expect("utf-8")]);
    let out = tempfile::tempdir().expect("tempdir");
    let got = out.path().join("got");

    let (code, _) = curl(addr, "/big.bin", &[], &got);
    assert_eq!(code, 200);
    assert_eq!(sha256_file(&got), sum, "GET is not bit-exact");
    assert!(
        server.wait_log(
            &format!("path=/big.bin status=200 bytes={len} "),
            Duration::from_secs(5)
        ),
        "{}",
        server.log()
    );
    assert!(server.log().contains("result=ok"), "{}", server.log());

    let head = headers(addr, "/big.bin", &["-I"]);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains(&format!("content-length: {len}\r\n")),
        "{head}"
    );
    assert!(head.contains("accept-ranges: bytes\r\n"), "{head}");
    assert!(head.contains("last-modified: "), "{head}");

    let mid = len / 2 - 12345;
    for (range, start, end) in [
        ("0-99".to_owned(), 0, 99),
        (format!("{mid}-{}", mid + 999_999), mid, mid + 999_999),
        ("-500".to_owned(), len - 500, len - 1),
        (format!("{}-", len - 10), len - 10, len - 1),
    ] {
        let (code, _) = curl(addr, "/big.bin", &["-r", &range], &got);
        assert_eq!(code, 206, "{range}");
        assert_eq!(
            std::fs::read(&got).expect("read"),
            &data[start..=end],
            "range {range}"
        );
        let h = headers(addr, "/big.bin", &["-r", &range]);
        assert!(
            h.contains(&format!("content-range: bytes {start}-{end}/{len}\r\n")),
            "{range}: {h}"
        );
    }
    let h = headers(addr, "/big.bin", &["-r", &format!("{len}-")]);
    assert!(h.starts_with("http/1.1 416"), "{h}");
    assert!(
        h.contains(&format!("content-range: bytes */{len}\r\n")),
        "{h}"
    );

    // A resumed download (curl -C) ends bit-exact.
    std::fs::write(&got, &data[..1 << 20]).expect("write");
    let (code, _) = curl(addr, "/big.bin", &["-C", "-"], &got);
    assert_eq!(code, 206);
    assert_eq!(sha256_file(&got), sum, "resumed GET is not bit-exact");

    assert_eq!(server.terminate(Duration::from_secs(10)), Some(0));
}

#[test]
fn refusals_and_path_escapes() {
    let base = tempfile::tempdir().expect("tempdir");
    let root = base.path().join("root");
    std::fs::create_dir_all(root.join("sub")).expect("mkdir");
    std::fs::write(root.join("a b.txt"), b"inside\n").expect("write");
    std::fs::write(base.path().join("secret.txt"), b"SECRET\n").expect("write");
    std::fs::write(root.join(".pxe-upload.0123456789abcdef.x"), b"partial").expect("write");
    std::os::unix::fs::symlink("/etc/passwd", root.join("abs-link")).expect("symlink");
    std::os::unix::fs::symlink("../secret.txt", root.join("rel-link")).expect("symlink");
    std::os::unix::fs::symlink("a b.txt", root.join("in-link")).expect("symlink");
    let (server, addr) = serve(&["--root", root.to_str().expect("utf-8")]);
    let out = tempfile::tempdir().expect("tempdir");
    let got = out.path().join("got");

    for (path, want) in [
        ("/a%20b.txt", 200),
        ("/in-link", 200),
        ("/sub/..%2Fa%20b.txt", 403),
        ("/nope", 404),
        ("/sub", 404),
        ("/sub/", 404),
        ("/", 404),
        ("/../secret.txt", 403),
        ("/sub/../../secret.txt", 403),
        ("/%2e%2e/secret.txt", 403),
        ("/%2E%2E%2Fsecret.txt", 403),
        ("/..%5csecret.txt", 403),
        ("/etc/passwd", 404),
        ("//etc/passwd", 404),
        ("/abs-link", 403),
        ("/rel-link", 403),
        ("/.pxe-upload.0123456789abcdef.x", 403),
        ("/a%00b", 403),
    ] {
        let (code, _) = curl(addr, path, &[], &got);
        assert_eq!(code, want, "{path}");
        let body = std::fs::read(&got).expect("read");
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("SECRET") && !text.contains("root:"),
            "{path} leaked: {text}"
        );
        if want != 200 {
            assert!(text.starts_with(&want.to_string()), "{path}: {text}");
        }
    }
    // A name longer than NAME_MAX is simply not there (not a 500).
    let (code, _) = curl(addr, &format!("/{}", "x".repeat(300)), &[], &got);
    assert_eq!(code, 404);
    // An absolute-form request target is the same path.
    let (code, _) = curl(
        addr,
        "/",
        &["--request-target", "http://x/../secret.txt"],
        &got,
    );
    assert_eq!(code, 403);
    let (code, _) = curl(addr, "/a%20b.txt", &["-X", "POST"], &got);
    assert_eq!(code, 405);
    let h = headers(addr, "/a%20b.txt", &["-X", "DELETE"]);
    assert!(h.contains("allow: get, head\r\n"), "{h}");
    assert!(
        server.wait_log("path=/rel-link status=403", Duration::from_secs(5)),
        "{}",
        server.log()
    );
    assert!(server.log().contains("resolves outside the root"));
}

#[test]
fn demo_root_over_http() {
    let (server, addr) = serve(&[]);
    let out = tempfile::tempdir().expect("tempdir");
    let got = out.path().join("got");
    let (code, _) = curl(addr, "/hello.txt", &[], &got);
    assert_eq!(code, 200);
    assert!(
        String::from_utf8_lossy(&std::fs::read(&got).expect("read")).contains("Hello from pxe")
    );
    for name in ["/boot.ipxe", "/boot.txt", "/pxelinux.cfg/default"] {
        let (code, _) = curl(addr, name, &[], &got);
        assert_eq!(code, 200, "{name}");
        assert!(!std::fs::read(&got).expect("read").is_empty());
    }
    let (code, _) = curl(addr, "/hello.txt", &["-r", "0-4"], &got);
    assert_eq!(code, 206);
    assert_eq!(std::fs::read(&got).expect("read"), b"Hello");
    let hint = format!("curl http://{addr}/hello.txt");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.stdout.lock().is_ok_and(|s| s.contains(&hint)) {
        assert!(Instant::now() < deadline, "no HTTP fetch hint on stdout");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.terminate(Duration::from_secs(10)), Some(0));
}

#[test]
fn concurrent_downloads_and_the_connection_cap() {
    let root = tempfile::tempdir().expect("tempdir");
    let len = 8 << 20;
    let sum = random_file(&root.path().join("f.bin"), len, 11);
    let config = root.path().join("pxe.toml");
    std::fs::write(
        &config,
        format!(
            "root = \"{}\"\n[http]\nmax_connections = 3\n",
            root.path().display()
        ),
    )
    .expect("write config");
    let (server, addr) = serve(&["--config", config.to_str().expect("utf-8")]);
    let out = tempfile::tempdir().expect("tempdir");
    let clients = 24;
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let got = out.path().join(format!("got{i}"));
            std::thread::spawn(move || {
                // --limit-rate keeps each download open long enough for the cap to matter.
                let (code, _) = curl(addr, "/f.bin", &["--limit-rate", "40M"], &got);
                (code, sha256_file(&got))
            })
        })
        .collect();
    for h in handles {
        let (code, got) = h.join().expect("client thread");
        assert_eq!(code, 200);
        assert_eq!(got, sum);
    }
    let log = server.log();
    assert_eq!(
        log.matches("path=/f.bin status=200").count(),
        clients,
        "{log}"
    );
    assert!(log.contains("HTTP connection limit reached"), "{log}");
    assert!(!log.contains("result=aborted"), "{log}");
}

/// A 256 MiB body is streamed: `pxe`'s resident memory stays far below the file size while
/// clients download it (a whole-file read would show up here).
#[test]
fn large_bodies_are_streamed_not_loaded() {
    let root = tempfile::tempdir().expect("tempdir");
    let len = 256 << 20;
    let path = root.path().join("sparse.iso");
    let f = std::fs::File::create(&path).expect("create");
    f.set_len(len).expect("set_len");
    drop(f);
    let (server, addr) = serve(&["--root", root.path().to_str().expect("utf-8")]);
    let out = tempfile::tempdir().expect("tempdir");
    let got = out.path().join("got");
    let (code, _) = curl(addr, "/sparse.iso", &[], &got);
    assert_eq!(code, 200);
    let body = std::fs::read(&got).expect("read");
    assert_eq!(body.len() as u64, len);
    assert!(
        body.iter().all(|&b| b == 0),
        "sparse file body is not all zeros"
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).expect("status");
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    assert!(
        hwm_kib < 64 * 1024,
        "peak RSS {hwm_kib} KiB while serving a {len}-byte file"
    );
}

/// A file dated before 1970 (archives and ISO trees carry such times) is served, without
/// `Last-Modified`, which cannot express it; TFTP serves it too.
#[test]
fn a_file_dated_before_1970_is_served() {
    let root = tempfile::tempdir().expect("tempdir");
    let path = root.path().join("old.cfg");
    std::fs::write(&path, b"from 1960\n").expect("write");
    let f = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open");
    f.set_modified(std::time::UNIX_EPOCH - Duration::from_secs(10 * 365 * 86400))
        .expect("set mtime");
    drop(f);
    let (server, addr) = serve(&["--root", root.path().to_str().expect("utf-8")]);
    let out = tempfile::tempdir().expect("tempdir");
    let got = out.path().join("got");
    let (code, _) = curl(addr, "/old.cfg", &[], &got);
    assert_eq!(code, 200, "{}", server.log());
    assert_eq!(std::fs::read(&got).expect("read"), b"from 1960\n");
    let h = headers(addr, "/old.cfg", &["-I"]);
    assert!(h.starts_with("http/1.1 200"), "{h}");
    assert!(!h.contains("last-modified"), "{h}");
    assert_eq!(server.terminate(Duration::from_secs(10)), Some(0));
}

#[test]
fn files_changed_between_requests_are_seen() {
    // The open-file cache keeps descriptors between requests; every change must still show.
    let root = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, bytes: &[u8]| {
        let path = root.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let mut perm = std::fs::metadata(&path).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o644);
        std::fs::set_permissions(&path, perm).expect("chmod");
    };
    write("a.img", &[1; 4096]);
    let (server, addr) = serve(&["--root", root.path().to_str().expect("utf-8")]);
    let out = tempfile::tempdir().expect("tempdir");
    let got = out.path().join("got");
    let get = |path: &str| {
        let (code, _) = curl(addr, path, &[], &got);
        (code, std::fs::read(&got).unwrap_or_default())
    };
    assert_eq!(get("/a.img"), (200, vec![1; 4096]), "{}", server.log());
    // Replaced by a rename over it (as an upload or `install` does).
    write("a.new", &[2; 100]);
    std::fs::rename(root.path().join("a.new"), root.path().join("a.img")).expect("rename");
    assert_eq!(get("/a.img"), (200, vec![2; 100]));
    // Shrunk in place, then grown in place.
    let f = std::fs::File::options()
        .write(true)
        .open(root.path().join("a.img"))
        .expect("open");
    f.set_len(10).expect("truncate");
    assert_eq!(get("/a.img"), (200, vec![2; 10]));
    f.set_len(20).expect("extend");
    let mut grown = vec![2; 10];
    grown.resize(20, 0);
    assert_eq!(get("/a.img"), (200, grown));
    drop(f);
    // Moved away while keeping its link, another file put under the name: seen within 1 s.
    std::fs::rename(root.path().join("a.img"), root.path().join("a.old")).expect("rename");
    write("a.img", &[3; 30]);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(get("/a.img"), (200, vec![3; 30]));
    // Deleted.
    std::fs::remove_file(root.path().join("a.img")).expect("remove");
    assert_eq!(get("/a.img").0, 404);
    assert_eq!(server.terminate(Duration::from_secs(10)), Some(0));
}
