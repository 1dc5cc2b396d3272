//! JWT users: the scope table rows for tokens from an identity provider, and every way a JWT is refused
//! (expired, not yet valid, bad signature, other algorithm, wrong issuer or audience, unusable claims) → 401.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{get, state};
use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use secrecy::SecretString;
use serde_json::json;
use zw_api::AppState;
use zw_api::jwt::{JwtAlgorithm, JwtConfig, JwtError, JwtVerifier};

const SECRET: &str = "test-secret-of-at-least-32-bytes-length";
// A throwaway Ed25519 key pair for these tests only.
const ED_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILxW3IuinsLVitWvi39AoDjkUAd5E/XvJNERKhBuR92v\n-----END PRIVATE KEY-----\n";
const ED_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAN6lJGKbhP/7z5ym6+bfxRkGgaTQkyy3A2OIurivbKwY=\n-----END PUBLIC KEY-----\n";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn hs_config() -> JwtConfig {
    JwtConfig {
        algorithm: JwtAlgorithm::HS256,
        secret: Some(SecretString::from(SECRET)),
        public_key_pem: None,
        issuer: Some("https://idp.example.de".into()),
        audience: Some("zaehlwerk".into()),
        leeway: Duration::from_secs(30),
    }
}

fn with_jwt(cfg: &JwtConfig) -> AppState {
    let mut s = state();
    s.jwt = Some(Arc::new(JwtVerifier::new(cfg).expect("verifier")));
    s
}

fn claims(sub: &str, role: &str, sites: &[&str]) -> serde_json::Value {
    json!({ "sub": sub, "role": role, "sites": sites, "exp": now() + 600,
        "iss": "https://idp.example.de", "aud": "zaehlwerk" })
}

fn hs(claims: &serde_json::Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("encode")
}

/// Role × endpoint × in/out of scope for JWT users, as for the inventory's users.
#[tokio::test]
async fn scope_table_for_jwt_users() {
    let s = with_jwt(&hs_config());
    let (ok, nf) = (StatusCode::OK, StatusCode::NOT_FOUND);
    let fm = hs(&claims("fm-jwt", "facility_manager", &["rathaus"]));
    let res = hs(&claims("res-jwt", "resident", &["hh-1"]));
    let parks = hs(&claims("parks-jwt", "parks", &["*"]));
    let admin = hs(&claims("admin-jwt", "admin", &["*"]));
    let table = [
        (&fm, "/api/v1/devices/rathaus-main/live", ok),
        (&fm, "/api/v1/devices/hh-1-plug/live", nf),
        (&fm, "/api/v1/sites/rathaus/live", ok),
        (&fm, "/api/v1/sites/park/live", nf),
        (&res, "/api/v1/devices/hh-1-plug/live", ok),
        (&res, "/api/v1/devices/hh-2-plug/live", nf),
        (&res, "/api/v1/sites/hh-2/live", nf),
        (
            &res,
            "/api/v1/devices/rathaus-main/history?quantity=active_power",
            nf,
        ),
        (&parks, "/api/v1/devices/soil-1/live", ok),
        (&parks, "/api/v1/devices/hh-1-plug/live", nf),
        (&admin, "/api/v1/devices/hh-2-plug/live", ok),
        (&admin, "/api/v1/sites/park/live", ok),
    ];
    for (token, path, want) in table {
        let (status, _, body) = get(&s, path, Some(token)).await;
        assert_eq!(status, want, "{path}: {body}");
    }
    let (_, _, devices) = get(&s, "/api/v1/devices", Some(&res)).await;
    assert_eq!(devices.as_array().map(Vec::len), Some(1), "{devices}");
    assert_eq!(devices[0]["id"], "hh-1-plug");
    // The inventory's tokens keep working next to JWTs.
    assert_eq!(get(&s, "/api/v1/devices", Some("anna")).await.0, ok);
}

async fn refused(s: &AppState, token: &str) -> String {
    let (status, ctype, body) = get(s, "/api/v1/devices", Some(token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(ctype, "application/problem+json");
    body["detail"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn bad_jwts_are_401_problems_that_say_why() {
    let s = with_jwt(&hs_config());
    let base = claims("fm-jwt", "facility_manager", &["*"]);
    let with = |k: &str, v: serde_json::Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    // Within the leeway still valid; beyond it expired or not yet valid.
    assert_eq!(
        get(&s, "/api/v1/devices", Some(&hs(&with("exp", json!(now() - 10)))))
            .await
            .0,
        StatusCode::OK
    );
    assert!(
        refused(&s, &hs(&with("exp", json!(now() - 120))))
            .await
            .contains("expired")
    );
    assert!(
        refused(&s, &hs(&with("nbf", json!(now() + 300))))
            .await
            .contains("not valid yet")
    );
    let forged = encode(
        &Header::new(Algorithm::HS256),
        &base,
        &EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!"),
    )
    .expect("encode");
    assert!(refused(&s, &forged).await.contains("signature"));
    let hs384 = encode(
        &Header::new(Algorithm::HS384),
        &base,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("encode");
    assert!(refused(&s, &hs384).await.contains("algorithm"));
    // `alg: none` with the signature stripped.
    let body = hs(&base)
        .rsplit_once('.')
        .map(|(h, _)| h.to_string())
        .unwrap_or_default();
    let payload = body.split('.').nth(1).unwrap_or_default();
    refused(&s, &format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")).await;
    assert!(
        refused(&s, &hs(&with("iss", json!("https://evil.example"))))
            .await
            .contains("issuer")
    );
    assert!(
        refused(&s, &hs(&with("aud", json!("someone-else"))))
            .await
            .contains("audience")
    );
    let no_exp = {
        let mut c = base.clone();
        c.as_object_mut().map(|o| o.remove("exp"));
        c
    };
    assert!(refused(&s, &hs(&no_exp)).await.contains("claims"));
    assert!(
        refused(&s, &hs(&with("role", json!("janitor"))))
            .await
            .contains("claims")
    );
    let everywhere = claims("res-jwt", "resident", &["*"]);
    assert!(refused(&s, &hs(&everywhere)).await.contains("resident"));
    assert!(
        refused(&s, &hs(&with("sub", json!("Bad Name"))))
            .await
            .contains("sub")
    );
    // Without `[api.jwt]` a JWT is just an unknown token.
    let plain = state();
    assert_eq!(
        get(&plain, "/api/v1/devices", Some(&hs(&base))).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn eddsa_tokens_verify_with_the_public_key_and_hs_confusion_fails() {
    let cfg = JwtConfig {
        algorithm: JwtAlgorithm::EdDSA,
        secret: None,
        public_key_pem: Some(ED_PUBLIC.into()),
        issuer: None,
        audience: None,
        leeway: Duration::from_secs(30),
    };
    let v = JwtVerifier::new(&cfg).expect("verifier");
    let c = json!({ "sub": "fm-ed", "role": "facility_manager", "sites": ["rathaus"], "exp": now() + 60 });
    let key = EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).expect("key");
    let token = encode(&Header::new(Algorithm::EdDSA), &c, &key).expect("encode");
    let t = u64::try_from(now()).expect("time");
    let user = v.verify(&token, t).expect("verifies");
    assert_eq!(user.name.as_str(), "fm-ed");
    // The public key used as an HMAC secret must not pass.
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &c,
        &EncodingKey::from_secret(ED_PUBLIC.as_bytes()),
    )
    .expect("encode");
    assert!(matches!(v.verify(&confused, t), Err(JwtError::Invalid(_))));
}

#[test]
fn verified_tokens_are_cached_until_they_expire() {
    let v = JwtVerifier::new(&hs_config()).expect("verifier");
    let t = u64::try_from(now()).expect("time");
    let token = hs(&claims("fm-jwt", "facility_manager", &["*"]));
    let a = v.verify(&token, t).expect("first");
    let b = v.verify(&token, t + 1).expect("cached");
    assert!(Arc::ptr_eq(&a, &b), "the second request is served from the cache");
    // Past exp + leeway the cache does not help: the token is expired.
    assert!(matches!(v.verify(&token, t + 600 + 31), Err(JwtError::Expired)));
}

#[test]
fn config_needs_key_material_and_never_shows_the_secret() {
    let mut cfg = hs_config();
    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    let shown = format!("{cfg:?} {}", toml::to_string(&cfg).expect("toml"));
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    cfg.secret = Some(SecretString::from("short"));
    assert!(cfg.validate().iter().any(|e| e.contains("32 bytes")));
    cfg.secret = None;
    assert!(!cfg.validate().is_empty());
    let ed: JwtConfig =
        toml::from_str("algorithm = \"EdDSA\"\npublic_key_pem = \"not a key\"\n").expect("parses");
    assert!(
        ed.validate().iter().any(|e| e.contains("public_key_pem")),
        "{:?}",
        ed.validate()
    );
}
