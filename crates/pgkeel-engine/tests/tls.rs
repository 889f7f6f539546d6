//! TLS with libpq's sslmode meanings, against the local server's TLS (Debian enables it with its
//! self-signed "snakeoil" certificate for CN=localhost).

use pgkeel_engine::db;
use pgkeel_testkit::TestDb;

const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

async fn uses_tls(url: &str) -> Result<bool, String> {
    let conn = db::connect(
        url,
        "tls-test",
        None,
        pgkeel_engine::config::DEFAULT_CONNECT_TIMEOUT,
    )
    .await
    .map_err(|e| e.to_string())?;
    let row = conn
        .client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

fn with_host(url: &str, host: &str) -> String {
    url.replace("127.0.0.1", host)
}

#[tokio::test]
async fn sslmodes_behave_as_in_libpq() {
    let db = TestDb::new().await;
    let ssl_on: String = db
        .client()
        .await
        .query_one("SHOW ssl", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        ssl_on, "on",
        "these tests need a server with TLS enabled (Debian's default)"
    );
    let u = &db.url;
    assert!(uses_tls(&format!("{u}?sslmode=require")).await.unwrap());
    assert!(
        !uses_tls(u).await.unwrap(),
        "no sslmode on loopback: plain (TLS over loopback protects nothing)"
    );
    assert!(
        uses_tls(&format!("{u}?sslmode=prefer")).await.unwrap(),
        "an explicit prefer encrypts when it can"
    );
    assert!(!uses_tls(&format!("{u}?sslmode=disable")).await.unwrap());

    // verify-full against the public roots: a self-signed certificate is refused.
    let err = uses_tls(&format!("{u}?sslmode=verify-full"))
        .await
        .unwrap_err();
    assert!(
        err.contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );

    let localhost = with_host(u, "localhost");
    assert!(uses_tls(&format!(
        "{localhost}?sslmode=verify-full&sslrootcert={SNAKEOIL}"
    ))
    .await
    .unwrap());
    // The certificate names localhost, not 127.0.0.1: verify-full refuses, verify-ca accepts.
    let err = uses_tls(&format!("{u}?sslmode=verify-full&sslrootcert={SNAKEOIL}"))
        .await
        .unwrap_err();
    assert!(
        err.to_lowercase().contains("name") || err.contains("NotValidForName"),
        "{err}"
    );
    assert!(
        uses_tls(&format!("{u}?sslmode=verify-ca&sslrootcert={SNAKEOIL}"))
            .await
            .unwrap()
    );
    let err = uses_tls(&format!(
        "{u}?sslmode=verify-ca&sslrootcert=/nonexistent.pem"
    ))
    .await
    .unwrap_err();
    assert!(err.contains("sslrootcert /nonexistent.pem"), "{err}");
}
