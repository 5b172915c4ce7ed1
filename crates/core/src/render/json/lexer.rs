//! The JSON tokenizer under the re-indenter: it checks each token against the JSON grammar
//! and hands out slices of the input, so the text is shown exactly as sent.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tok<'a> {
    Open(u8),
    Close(u8),
    Colon,
    Comma,
    Str(&'a str),
    Num(&'a str),
    Bool(&'a str),
    Null,
}

/// The input is not well-formed JSON.
pub(super) struct Malformed;

pub(super) struct Lexer<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(s: &'a str) -> Self {
        Self {
            s,
            b: s.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// The next token, `Ok(None)` at the end of the input.
    pub(super) fn next_token(&mut self) -> Result<Option<Tok<'a>>, Malformed> {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let tok = match c {
            b'{' | b'[' => {
                self.pos += 1;
                Tok::Open(c)
            }
            b'}' | b']' => {
                self.pos += 1;
                Tok::Close(c)
            }
            b':' => {
                self.pos += 1;
                Tok::Colon
            }
            b',' => {
                self.pos += 1;
                Tok::Comma
            }
            b'"' => {
                self.string()?;
                Tok::Str(self.since(start)?)
            }
            b'-' | b'0'..=b'9' => {
                self.number()?;
                Tok::Num(self.since(start)?)
            }
            b't' => {
                self.literal(b"true")?;
                Tok::Bool(self.since(start)?)
            }
            b'f' => {
                self.literal(b"false")?;
                Tok::Bool(self.since(start)?)
            }
            b'n' => {
                self.literal(b"null")?;
                Tok::Null
            }
            _ => return Err(Malformed),
        };
        Ok(Some(tok))
    }

    /// The source text from `start` to the current position. Token boundaries are ASCII
    /// bytes, so this never fails on a lexer-produced range.
    fn since(&self, start: usize) -> Result<&'a str, Malformed> {
        self.s.get(start..self.pos).ok_or(Malformed)
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Malformed> {
        if self
            .b
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(word))
        {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    fn string(&mut self) -> Result<(), Malformed> {
        self.pos += 1; // opening quote
        loop {
            match self.peek().ok_or(Malformed)? {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => match self.b.get(self.pos + 1).copied().ok_or(Malformed)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 2,
                    b'u' => {
                        let hex = self.b.get(self.pos + 2..self.pos + 6).ok_or(Malformed)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(Malformed);
                        }
                        self.pos += 6;
                    }
                    _ => return Err(Malformed),
                },
                0x00..=0x1f => return Err(Malformed),
                _ => self.pos += 1,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), Malformed> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Malformed),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(Malformed);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(Malformed);
            }
        }
        Ok(())
    }
}
