//! Session tokens and API keys: 128-bit ids and 256-bit secrets from the OS random generator.
//! Only a SHA-256 hash of the secret is kept; a presented secret is compared in constant time.
//!
//! The text form is `sdb_s_` (sessions) or `sdb_k_` (API keys) followed by the id and the
//! secret in unpadded URL-safe base64.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A session from `Login`.
    Session,
    /// An API key.
    ApiKey,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Session => "sdb_s_",
            TokenKind::ApiKey => "sdb_k_",
        }
    }
}

/// A token's public id: the key under which its hash is kept.
pub type TokenId = [u8; 16];

/// A SHA-256 hash of a token's secret.
pub type SecretHash = [u8; 32];

/// The SHA-256 hash a secret is kept as.
pub fn hash_secret(secret: &[u8]) -> SecretHash {
    Sha256::digest(secret).into()
}

/// A token as presented by a client.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// Session or API key.
    pub kind: TokenKind,
    /// Its id.
    pub id: TokenId,
    secret: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("kind", &self.kind)
            .field("id", &hex::encode(self.id))
            .finish_non_exhaustive()
    }
}

impl Token {
    /// A new random token.
    pub fn generate(kind: TokenKind) -> Result<Token, String> {
        let mut id = [0u8; 16];
        let mut secret = [0u8; 32];
        getrandom::fill(&mut id).map_err(|e| format!("the OS random generator failed: {e}"))?;
        getrandom::fill(&mut secret).map_err(|e| format!("the OS random generator failed: {e}"))?;
        Ok(Token { kind, id, secret })
    }

    /// Parses the text form; `None` if it is not a token.
    pub fn parse(text: &str) -> Option<Token> {
        let (kind, rest) = if let Some(r) = text.strip_prefix(TokenKind::Session.prefix()) {
            (TokenKind::Session, r)
        } else if let Some(r) = text.strip_prefix(TokenKind::ApiKey.prefix()) {
            (TokenKind::ApiKey, r)
        } else {
            return None;
        };
        let raw = URL_SAFE_NO_PAD.decode(rest).ok()?;
        if raw.len() != 48 {
            return None;
        }
        let mut id = [0u8; 16];
        let mut secret = [0u8; 32];
        id.copy_from_slice(&raw[..16]);
        secret.copy_from_slice(&raw[16..]);
        Some(Token { kind, id, secret })
    }

    /// The text form, given to the client once.
    pub fn to_text(&self) -> String {
        let mut raw = Vec::with_capacity(48);
        raw.extend_from_slice(&self.id);
        raw.extend_from_slice(&self.secret);
        format!("{}{}", self.kind.prefix(), URL_SAFE_NO_PAD.encode(raw))
    }

    /// The hash that is stored instead of the secret.
    pub fn secret_hash(&self) -> SecretHash {
        hash_secret(&self.secret)
    }

    /// Whether the secret matches a stored hash, in constant time.
    pub fn matches(&self, stored: &SecretHash) -> bool {
        self.secret_hash().ct_eq(stored).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_only_its_hash() {
        let t = Token::generate(TokenKind::ApiKey).expect("random");
        let text = t.to_text();
        assert!(text.starts_with("sdb_k_"));
        let back = Token::parse(&text).expect("parses");
        assert_eq!(back, t);
        assert!(back.matches(&t.secret_hash()));
        let other = Token::generate(TokenKind::ApiKey).expect("random");
        assert!(!other.matches(&t.secret_hash()));
        assert!(Token::parse("sdb_s_short").is_none());
        assert!(Token::parse("Bearer x").is_none());
    }
}
