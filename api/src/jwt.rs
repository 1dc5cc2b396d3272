//! JSON Web Tokens from an identity provider, next to the stored (hashed) bearer tokens of the inventory.
//!
//! Configured in `[api.jwt]` ([`JwtConfig`]): `HS256` with a shared secret (give it through the environment,
//! `ZW__API__JWT__SECRET`; it is never logged or rendered), or `RS256`/`EdDSA` with the issuer's public key.
//! A token must carry `sub` (the user name, an id), `exp`, `role` (`facility_manager`, `resident`, `parks`,
//! `admin`) and `sites` (site ids, or `["*"]`; a resident exactly one household). `exp` and `nbf` are
//! checked with the configured leeway; `iss` and `aud` when configured. Only the configured algorithm is
//! accepted (no `alg: none`, no HS/RS confusion).
//!
//! Verified tokens are cached by their SHA-256 until they expire, so a request with a known token costs one
//! hash and one map lookup, whatever the algorithm. Only tokens that verified enter the cache, so garbage
//! cannot fill it; it is bounded anyway ([`MAX_CACHED`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};
use zw_model::inventory::Role;
use zw_model::{Id, User};

/// Most verified tokens kept in the cache.
pub const MAX_CACHED: usize = 4096;

/// Accepted signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret.
    HS256,
    /// RSA PKCS#1 v1.5 with SHA-256; needs `public_key_pem`.
    RS256,
    /// Ed25519; needs `public_key_pem`.
    EdDSA,
}

/// `[api.jwt]`: accept JWTs besides the inventory's tokens.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The only accepted algorithm.
    pub algorithm: JwtAlgorithm,
    /// HS256 shared secret, at least 32 bytes. Prefer `ZW__API__JWT__SECRET` to the file.
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "redacted")]
    pub secret: Option<SecretString>,
    /// RS256 / EdDSA: the issuer's public key (PEM: `BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_pem: Option<String>,
    /// Required `iss` claim, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Required `aud` claim (one of the token's audiences), if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Allowed clock difference for `exp` and `nbf`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
}

fn default_leeway() -> Duration {
    Duration::from_secs(30)
}

fn redacted<S: Serializer>(_: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
}

impl JwtConfig {
    /// Reports every invalid setting, prefixed with `api.jwt.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Err(e) = JwtVerifier::new(self) {
            errors.push(format!("api.jwt: {e}"));
        }
        if self.leeway > Duration::from_secs(600) {
            errors.push("api.jwt.leeway: at most 10m".into());
        }
        errors
    }
}

/// The JWT settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    /// HS256 without a usable secret.
    #[error("HS256 needs `secret` (at least 32 bytes; e.g. from ZW__API__JWT__SECRET)")]
    Secret,
    /// RS256/EdDSA without a key.
    #[error("{0:?} needs `public_key_pem`")]
    MissingKey(JwtAlgorithm),
    /// The key does not parse.
    #[error("public_key_pem: {0}")]
    Key(jsonwebtoken::errors::Error),
}

/// Why a JWT was refused (the text goes to the client; it names no secret).
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Past `exp` (plus leeway).
    #[error("the token has expired")]
    Expired,
    /// Before `nbf` (minus leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Bad signature, wrong algorithm, wrong issuer or audience, malformed.
    #[error("the token is not valid ({0})")]
    Invalid(&'static str),
    /// The claims do not describe a user this API knows how to scope.
    #[error("the token's claims are not usable: {0}")]
    Claims(String),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    role: Role,
    sites: Vec<String>,
}

/// SHA-256 of a verified token → its user and `exp`.
type Cache = HashMap<[u8; 32], (Arc<User>, u64)>;

/// Verifies JWTs and caches the users of verified ones.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    leeway_secs: u64,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier").finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// Builds the verifier; fails if the key material is missing or does not parse.
    pub fn new(cfg: &JwtConfig) -> Result<Self, JwtConfigError> {
        let (key, alg) = match cfg.algorithm {
            JwtAlgorithm::HS256 => {
                let secret = cfg.secret.as_ref().map(|s| s.expose_secret().as_bytes());
                let secret = secret.filter(|s| s.len() >= 32).ok_or(JwtConfigError::Secret)?;
                (DecodingKey::from_secret(secret), Algorithm::HS256)
            }
            alg @ (JwtAlgorithm::RS256 | JwtAlgorithm::EdDSA) => {
                let pem = cfg
                    .public_key_pem
                    .as_deref()
                    .ok_or(JwtConfigError::MissingKey(alg))?
                    .as_bytes();
                let key = if alg == JwtAlgorithm::RS256 {
                    DecodingKey::from_rsa_pem(pem)
                } else {
                    DecodingKey::from_ed_pem(pem)
                };
                let a = if alg == JwtAlgorithm::RS256 {
                    Algorithm::RS256
                } else {
                    Algorithm::EdDSA
                };
                (key.map_err(JwtConfigError::Key)?, a)
            }
        };
        let mut validation = Validation::new(alg);
        // `exp` and `nbf` are checked in `verify` against its `now`, with the same leeway rule.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &cfg.audience {
            Some(a) => validation.set_audience(&[a]),
            None => validation.validate_aud = false,
        }
        if let Some(i) = &cfg.issuer {
            validation.set_issuer(&[i]);
        }
        Ok(Self {
            key,
            validation,
            leeway_secs: cfg.leeway.as_secs(),
            cache: Mutex::default(),
        })
    }

    /// The user `token` stands for, if it verifies. `now` is seconds since the Unix epoch.
    pub fn verify(&self, token: &str, now: u64) -> Result<Arc<User>, JwtError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Ok(cache) = self.cache.lock()
            && let Some((user, exp)) = cache.get(&digest)
            && now <= exp.saturating_add(self.leeway_secs)
        {
            return Ok(user.clone());
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|e| match e
            .kind()
        {
            ErrorKind::InvalidSignature => JwtError::Invalid("signature"),
            ErrorKind::InvalidAlgorithm => JwtError::Invalid("algorithm"),
            ErrorKind::InvalidIssuer => JwtError::Invalid("issuer"),
            ErrorKind::InvalidAudience => JwtError::Invalid("audience"),
            ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) | ErrorKind::InvalidClaimFormat(_) => {
                JwtError::Invalid("claims")
            }
            _ => JwtError::Invalid("format"),
        })?;
        let c = data.claims;
        if now > c.exp.saturating_add(self.leeway_secs) {
            return Err(JwtError::Expired);
        }
        if c.nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway_secs))
        {
            return Err(JwtError::NotYetValid);
        }
        let user = Arc::new(user_of(c.sub, c.role, c.sites)?);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                let leeway = self.leeway_secs;
                cache.retain(|_, (_, exp)| now <= exp.saturating_add(leeway));
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
            }
            cache.insert(digest, (user.clone(), c.exp));
        }
        Ok(user)
    }
}

/// The user a token's claims describe, with the inventory's rules for scopes.
fn user_of(sub: String, role: Role, sites: Vec<String>) -> Result<User, JwtError> {
    let name = Id::new(sub).map_err(|e| JwtError::Claims(format!("sub: {e}")))?;
    if sites.is_empty() {
        return Err(JwtError::Claims(
            "sites: must name at least one site or \"*\"".into(),
        ));
    }
    if role == Role::Resident && (sites.len() != 1 || sites[0] == "*") {
        return Err(JwtError::Claims(
            "sites: a resident's scope is exactly one household".into(),
        ));
    }
    Ok(User {
        name,
        role,
        scope: sites,
        token_sha256: String::new(),
        token_expires: None,
        tokens: Vec::new(),
        since: None,
    })
}

/// Whether `token` has the shape of a JWT (three base64url parts), so it is worth verifying.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
