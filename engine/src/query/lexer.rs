//! YQL tokens.
//!
//! - whitespace (space, tab, CR, LF) separates tokens; there are no comments;
//! - identifiers: `[A-Za-z_][A-Za-z0-9_]*` (keywords are contextual: the lexer does not know them);
//! - backquoted identifiers: `` `any name` `` (a backquote inside is written twice);
//! - strings in `"..."` or `'...'` with the escapes `\" \' \\ \/ \b \f \n \r \t \uXXXX`
//!   (surrogate pairs combine);
//! - numbers: `-?digits`, then `.digits` (only when a digit follows the dot, so `1.limit` is `1`,
//!   `.`, `limit`), then an exponent `e[+-]digits`; with a fraction or exponent it is a float,
//!   otherwise an i64;
//! - punctuation: `. ( ) { } [ ] , : ~ = != > >= < <=`.
//!
//! A character or construct that is not a token becomes an [`TokenKind::Invalid`] token carrying
//! the message; the parser reports it when it reaches it.

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// A plain identifier (also every keyword).
    Ident(String),
    /// A backquoted identifier, unquoted.
    QuotedIdent(String),
    /// A string literal, escapes decoded.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// `.`
    Dot,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `~`
    Tilde,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// The end of the input.
    Eof,
    /// Not a token: the message says why (`expected ..., found ...`).
    Invalid(LexError),
}

/// Why some text is not a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    /// What would have been valid.
    pub expected: String,
    /// What was there.
    pub found: String,
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past its last character.
    pub end: usize,
}

/// Splits query text into tokens; the last one is always [`TokenKind::Eof`]. Never fails: bad
/// text becomes [`TokenKind::Invalid`] tokens.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut lx = Lexer {
        text,
        chars: text.char_indices().peekable(),
        out: Vec::new(),
    };
    lx.run();
    lx.out
}

struct Lexer<'a> {
    text: &'a str,
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    out: Vec<Token>,
}

impl Lexer<'_> {
    fn pos(&mut self) -> usize {
        self.chars.peek().map_or(self.text.len(), |&(i, _)| i)
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|&(_, c)| c)
    }

    /// The character after the next one.
    fn peek2(&self) -> Option<char> {
        let mut it = self.chars.clone();
        it.next();
        it.next().map(|(_, c)| c)
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        let end = self.pos();
        self.out.push(Token { kind, start, end });
    }

    fn invalid(&mut self, start: usize, expected: &str, found: String) {
        self.push(
            TokenKind::Invalid(LexError {
                expected: expected.to_string(),
                found,
            }),
            start,
        );
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            let start = self.pos();
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    self.chars.next();
                }
                'a'..='z' | 'A'..='Z' | '_' => self.ident(start),
                '`' => self.quoted_ident(start),
                '"' | '\'' => self.string(start, c),
                '0'..='9' => self.number(start),
                '-' if self.peek2().is_some_and(|d| d.is_ascii_digit()) => self.number(start),
                _ => {
                    self.chars.next();
                    let kind = match c {
                        '.' => TokenKind::Dot,
                        '(' => TokenKind::LParen,
                        ')' => TokenKind::RParen,
                        '{' => TokenKind::LBrace,
                        '}' => TokenKind::RBrace,
                        '[' => TokenKind::LBracket,
                        ']' => TokenKind::RBracket,
                        ',' => TokenKind::Comma,
                        ':' => TokenKind::Colon,
                        '~' => TokenKind::Tilde,
                        '=' => TokenKind::Eq,
                        '>' | '<' | '!' => {
                            let eq = self.peek() == Some('=');
                            if eq {
                                self.chars.next();
                            }
                            match (c, eq) {
                                ('>', false) => TokenKind::Gt,
                                ('>', true) => TokenKind::Ge,
                                ('<', false) => TokenKind::Lt,
                                ('<', true) => TokenKind::Le,
                                ('!', true) => TokenKind::Ne,
                                _ => {
                                    self.invalid(start, "`!=`", "`!`".to_string());
                                    continue;
                                }
                            }
                        }
                        '-' => {
                            let found = found_text(self.text, start, self.pos());
                            self.invalid(start, "a digit right after `-`", found);
                            continue;
                        }
                        other => {
                            self.invalid(
                                start,
                                "a name, a literal, an operator or punctuation",
                                format!("`{other}`"),
                            );
                            continue;
                        }
                    };
                    self.push(kind, start);
                }
            }
        }
        let end = self.text.len();
        self.out.push(Token {
            kind: TokenKind::Eof,
            start: end,
            end,
        });
    }

    fn ident(&mut self, start: usize) {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                s.push(c);
                self.chars.next();
            } else {
                break;
            }
        }
        self.push(TokenKind::Ident(s), start);
    }

    fn quoted_ident(&mut self, start: usize) {
        self.chars.next();
        let mut s = String::new();
        loop {
            match self.chars.next() {
                None => {
                    self.invalid(start, "a closing backquote", "end of input".to_string());
                    return;
                }
                Some((_, '`')) if self.peek() == Some('`') => {
                    self.chars.next();
                    s.push('`');
                }
                Some((_, '`')) => break,
                Some((_, c)) => s.push(c),
            }
        }
        if s.contains('\0') {
            let found = found_text(self.text, start, self.pos());
            self.invalid(start, "a field name without NUL characters", found);
            return;
        }
        self.push(TokenKind::QuotedIdent(s), start);
    }

    fn string(&mut self, start: usize, quote: char) {
        self.chars.next();
        let mut s = String::new();
        loop {
            let Some((at, c)) = self.chars.next() else {
                self.invalid(
                    start,
                    &format!("a closing `{quote}`"),
                    "end of input".to_string(),
                );
                return;
            };
            if c == quote {
                break;
            }
            if c != '\\' {
                s.push(c);
                continue;
            }
            match self.escape() {
                Ok(ch) => s.push(ch),
                Err(found) => {
                    let found = if found.is_empty() {
                        found_text(self.text, at, self.pos())
                    } else {
                        found
                    };
                    self.skip_string_rest(quote);
                    let end = self.pos();
                    self.out.push(Token {
                        kind: TokenKind::Invalid(LexError {
                            expected: r#"an escape (\" \' \\ \/ \b \f \n \r \t or \uXXXX)"#
                                .to_string(),
                            found,
                        }),
                        start: at,
                        end,
                    });
                    return;
                }
            }
        }
        self.push(TokenKind::Str(s), start);
    }

    /// After a failed escape, skips to the closing quote so that lexing resumes after the string.
    fn skip_string_rest(&mut self, quote: char) {
        let mut escaped = false;
        for (_, c) in self.chars.by_ref() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                return;
            }
        }
    }

    /// Decodes one escape (the backslash is consumed). `Err(found)` describes a bad one
    /// (empty = use the source text).
    fn escape(&mut self) -> Result<char, String> {
        let Some((_, c)) = self.chars.next() else {
            return Err("end of input".to_string());
        };
        Ok(match c {
            '"' => '"',
            '\'' => '\'',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hi = self.hex4().ok_or_else(String::new)?;
                if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate must be followed by `\u` and a low surrogate.
                    if self.peek() != Some('\\') || self.peek2() != Some('u') {
                        return Err(String::new());
                    }
                    self.chars.next();
                    self.chars.next();
                    let lo = self.hex4().ok_or_else(String::new)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(String::new());
                    }
                    let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    char::from_u32(code).ok_or_else(String::new)?
                } else {
                    char::from_u32(hi).ok_or_else(String::new)?
                }
            }
            _ => return Err(String::new()),
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self.peek()?.to_digit(16)?;
            self.chars.next();
            v = v * 16 + d;
        }
        Some(v)
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.chars.next();
        }
    }

    fn number(&mut self, start: usize) {
        if self.peek() == Some('-') {
            self.chars.next();
        }
        self.digits();
        let mut float = false;
        if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
            float = true;
            self.chars.next();
            self.digits();
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let mut it = self.chars.clone();
            it.next();
            let mut next = it.next().map(|(_, c)| c);
            if matches!(next, Some('+' | '-')) {
                next = it.next().map(|(_, c)| c);
            }
            if next.is_some_and(|c| c.is_ascii_digit()) {
                float = true;
                self.chars.next();
                if matches!(self.peek(), Some('+' | '-')) {
                    self.chars.next();
                }
                self.digits();
            }
        }
        let end = self.pos();
        let text = self.text.get(start..end).unwrap_or_default();
        let kind = if float {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => TokenKind::Float(f),
                _ => TokenKind::Invalid(LexError {
                    expected: "a number within the range of a double".to_string(),
                    found: format!("`{text}`"),
                }),
            }
        } else {
            match text.parse::<i64>() {
                Ok(i) => TokenKind::Int(i),
                Err(_) => TokenKind::Invalid(LexError {
                    expected: "an integer within the range of a 64-bit integer".to_string(),
                    found: format!("`{text}`"),
                }),
            }
        };
        self.push(kind, start);
    }
}

/// `` `text` `` for a slice of the source, shortened when long.
pub fn found_text(text: &str, start: usize, end: usize) -> String {
    let s = text.get(start..end).unwrap_or_default();
    let mut short: String = s.chars().take(40).collect();
    if short.len() < s.len() {
        short.push_str("...");
    }
    let short = short.replace('\n', "\\n");
    format!("`{short}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn numbers_dots_and_exponents() {
        assert_eq!(
            kinds("1.limit"),
            vec![
                TokenKind::Int(1),
                TokenKind::Dot,
                TokenKind::Ident("limit".into()),
                TokenKind::Eof
            ]
        );
        assert_eq!(kinds("-2.5e3")[0], TokenKind::Float(-2500.0));
        assert_eq!(kinds("1E-2")[0], TokenKind::Float(0.01));
        assert_eq!(
            kinds("1e")[..2],
            [TokenKind::Int(1), TokenKind::Ident("e".into())]
        );
        assert_eq!(kinds("-9223372036854775808")[0], TokenKind::Int(i64::MIN));
        assert!(matches!(
            kinds("9223372036854775808")[0],
            TokenKind::Invalid(_)
        ));
        assert!(matches!(kinds("1e999")[0], TokenKind::Invalid(_)));
        assert!(matches!(kinds("- 1")[0], TokenKind::Invalid(_)));
    }

    #[test]
    fn strings_decode_escapes() {
        assert_eq!(
            kinds(r#""a\"b\\c\nd\t\u00e9\ud83d\ude00" 'it\'s'"#)[..2],
            [
                TokenKind::Str("a\"b\\c\nd\té😀".into()),
                TokenKind::Str("it's".into())
            ]
        );
        assert!(matches!(kinds(r#""\x""#)[0], TokenKind::Invalid(_)));
        assert!(matches!(kinds(r#""\ud83d""#)[0], TokenKind::Invalid(_)));
        assert!(matches!(kinds(r#""open"#)[0], TokenKind::Invalid(_)));
    }

    #[test]
    fn operators_and_quoted_identifiers() {
        assert_eq!(
            kinds("!= >= <= > < = ~ `a``b c`"),
            vec![
                TokenKind::Ne,
                TokenKind::Ge,
                TokenKind::Le,
                TokenKind::Gt,
                TokenKind::Lt,
                TokenKind::Eq,
                TokenKind::Tilde,
                TokenKind::QuotedIdent("a`b c".into()),
                TokenKind::Eof
            ]
        );
        assert!(matches!(kinds("!")[0], TokenKind::Invalid(_)));
        assert!(matches!(kinds("#")[0], TokenKind::Invalid(_)));
    }
}
