//! The API and web page for other machines: `outpost up --public-api ADDR
//! --tls-cert FILE --tls-key FILE` serves the same routes over HTTPS (here
//! on 127.0.0.1, with a certificate from a CA made by `openssl` for this
//! test), with
//! the same token; plain HTTP on that port gets nothing, and a
//! non-loopback `--api` without TLS, a `--public-api` without a
//! certificate, or a certificate that does not read are refused before
//! the node starts.

use outpost_tests::UpOptions;
use outpost_tests::cluster::acme;
use std::process::Command;

/// Runs openssl with `args` in `dir`; it must succeed.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (scripts/test installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes a test CA and a certificate for 127.0.0.1 signed by it, in the
/// sandbox; returns the paths of (CA certificate, certificate, key).
fn certificates(dir: &std::path::Path) -> (String, String, String) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=outpost test CA",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
    ];
    ca.extend(ec);
    openssl(dir, &ca);
    let mut csr = vec![
        "req",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "api-key.pem",
        "-out",
        "api.csr",
    ];
    csr.extend(ec);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("api.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("the extensions file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "api.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "api.ext",
            "-out",
            "api-cert.pem",
        ],
    );
    let path = |name: &str| dir.join(name).display().to_string();
    (path("ca.pem"), path("api-cert.pem"), path("api-key.pem"))
}

#[test]
fn the_public_api_speaks_https_only_and_needs_the_token() {
    let (sb, admin) = acme();
    let (ca, cert, key) = certificates(sb.dir());

    // Refused before anything starts.
    admin
        .cmd(["up", "--api", "0.0.0.0:0"])
        .run()
        .code(1)
        .stderr_has("--public-api");
    admin
        .cmd(["up", "--public-api", "127.0.0.1:0"])
        .run()
        .code(2)
        .stderr_has("--tls-cert");
    let not_pem = sb.write("bad.pem", "not a certificate");
    admin
        .cmd([
            "up",
            "--public-api",
            "127.0.0.1:0",
            "--tls-cert",
            &not_pem.display().to_string(),
            "--tls-key",
            &key,
        ])
        .run()
        .code(1)
        .stderr_has("bad.pem");

    let node = admin.up_with(
        &[],
        &UpOptions::args(&["--public-api", "127.0.0.1:0", "--tls-cert", &cert, "--tls-key", &key]),
    );
    let info: serde_json::Value = serde_json::from_str(&sb.read("a/api.json")).expect("api.json is JSON");
    let url = info["public_url"]
        .as_str()
        .expect("api.json names the HTTPS address")
        .to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let token = info["token"].as_str().expect("a token").to_owned();

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let pem = std::fs::read(&ca).expect("the CA certificate");
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("a PEM certificate"))
            .no_proxy()
            .build()
            .expect("a client");
        let status = client
            .get(format!("{url}/api/status"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("the HTTPS API answers");
        assert_eq!(status.status().as_u16(), 200);
        let body: serde_json::Value = serde_json::from_str(&status.text().await.expect("a body")).expect("JSON");
        assert_eq!(body["peer_id"].as_str(), Some(node.peer_id()));
        let anonymous = client.get(format!("{url}/api/status")).send().await.expect("an answer");
        assert_eq!(anonymous.status().as_u16(), 401, "the token is needed here too");
        // The page logs in the same way, over HTTPS.
        let no_redirects = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("a PEM certificate"))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("a client");
        let login = no_redirects
            .get(format!("{url}/login?token={token}"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(login.status().as_u16(), 303);
        let cookie = login
            .headers()
            .get("set-cookie")
            .and_then(|c| c.to_str().ok())
            .unwrap_or_default();
        assert!(cookie.contains("HttpOnly") && cookie.contains(&token), "{cookie}");

        // A client that does not trust the certificate gets nowhere, and
        // plain HTTP on the HTTPS port gets no page.
        let strict = reqwest::Client::builder().no_proxy().build().expect("a client");
        assert!(strict.get(format!("{url}/api/status")).send().await.is_err());
        let plain = url.replacen("https://", "http://", 1);
        let answer = strict
            .get(format!("{plain}/api/status"))
            .bearer_auth(&token)
            .send()
            .await;
        assert!(answer.is_err() || !answer.expect("checked").status().is_success());
    });
}
