//! What the left side of a generic check means, decided once at parse time.
//!
//! oslo.policy passes the left side (the "kind") to Python's `ast.literal_eval`: a Python literal is
//! compared as `str(literal)`, anything else that is a valid Python expression (a `ValueError`) is a dotted
//! path into the credentials, and text that is not Python at all raises `SyntaxError` out of the check.
//! This module makes the same three-way decision with a small Python tokenizer and expression grammar.

/// The meaning of a generic check's kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KindMeaning {
    /// A Python literal; the string is `str()` of its value.
    Literal(String),
    /// A dotted path into the credentials.
    Path(Vec<String>),
    /// Python raises this error when the check runs.
    Raises(String),
}

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Decides what `kind` means, as `ast.literal_eval(kind)` would.
pub(crate) fn classify(kind: &str) -> KindMeaning {
    let src = kind.trim_start_matches([' ', '\t']);
    let toks = match tokenize(src) {
        Ok(t) => t,
        Err(e) => return KindMeaning::Raises(e),
    };
    if toks.is_empty() {
        return KindMeaning::Raises("invalid syntax (<unknown>, line 0)".into());
    }
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        depth: 0,
    };
    let lit = p.literal_list();
    if let Some(Some(v)) = lit.ok().map(|v| (p.pos == toks.len()).then_some(v)) {
        return match v {
            Lit::Unsupported => KindMeaning::Raises("unsupported Python literal".into()),
            v => KindMeaning::Literal(v.str()),
        };
    }
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        depth: 0,
    };
    match p.exprlist() {
        Ok(()) if p.pos == toks.len() => {
            KindMeaning::Path(kind.split('.').map(String::from).collect())
        }
        _ => KindMeaning::Raises("invalid syntax".into()),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Int(Option<u128>),
    Float(f64),
    Imag(f64),
    Str {
        bytes: bool,
        text: String,
        fstring: bool,
    },
    Op(&'static str),
}

const OPS: &[&str] = &[
    "**=", "//=", ">>=", "<<=", "...", "->", "**", "//", "<<", ">>", "<=", ">=", "==", "!=", "+=",
    "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", "+", "-", "*", "/", "%", "@", "&", "|", "^",
    "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ".", "=", ";",
];

fn is_id_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_id_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    while let Some(c) = at(i) {
        if matches!(c, ' ' | '\t' | '\x0c') {
            i += 1;
            continue;
        }
        if c == '#' {
            break;
        }
        if c == '\n' || c == '\r' {
            // A newline ends the expression; anything after it is a syntax error unless blank.
            if chars
                .get(i..)
                .unwrap_or(&[])
                .iter()
                .all(|c| c.is_whitespace())
            {
                break;
            }
            return Err("invalid syntax".into());
        }
        if is_id_start(c) {
            let start = i;
            while at(i).is_some_and(is_id_continue) {
                i += 1;
            }
            let word: String = chars.get(start..i).unwrap_or(&[]).iter().collect();
            let lower = word.to_ascii_lowercase();
            if matches!(at(i), Some('\'' | '"'))
                && matches!(
                    lower.as_str(),
                    "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf"
                )
            {
                let (tok, next) = string(&chars, i, &lower)?;
                toks.push(tok);
                i = next;
                continue;
            }
            toks.push(Tok::Name(word));
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let (tok, next) = number(&chars, i)?;
            if at(next).is_some_and(is_id_continue) {
                return Err("invalid decimal literal".into());
            }
            toks.push(tok);
            i = next;
            continue;
        }
        if c == '\'' || c == '"' {
            let (tok, next) = string(&chars, i, "")?;
            toks.push(tok);
            i = next;
            continue;
        }
        let rest: String = chars
            .get(i..(i + 3).min(chars.len()))
            .unwrap_or(&[])
            .iter()
            .collect();
        match OPS.iter().find(|op| rest.starts_with(**op)) {
            Some(op) => {
                toks.push(Tok::Op(op));
                i += op.len();
            }
            None => return Err("invalid syntax".into()),
        }
    }
    Ok(toks)
}

fn digits(
    chars: &[char],
    mut i: usize,
    ok: impl Fn(char) -> bool,
) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut last_us = true;
    while let Some(&c) = chars.get(i) {
        if c == '_' {
            if last_us {
                return Err("invalid decimal literal".into());
            }
            last_us = true;
        } else if ok(c) {
            out.push(c);
            last_us = false;
        } else {
            break;
        }
        i += 1;
    }
    if last_us && !out.is_empty() {
        return Err("invalid decimal literal".into());
    }
    Ok((out, i))
}

fn number(chars: &[char], start: usize) -> Result<(Tok, usize), String> {
    let at = |i: usize| chars.get(i).copied();
    if at(start) == Some('0') && matches!(at(start + 1), Some('x' | 'X' | 'o' | 'O' | 'b' | 'B')) {
        let radix = match at(start + 1) {
            Some('x' | 'X') => 16,
            Some('o' | 'O') => 8,
            _ => 2,
        };
        let mut i = start + 2;
        if at(i) == Some('_') {
            i += 1;
        }
        let (d, next) = digits(chars, i, |c| c.is_digit(radix))?;
        if d.is_empty() {
            return Err("invalid syntax".into());
        }
        return Ok((Tok::Int(u128::from_str_radix(&d, radix).ok()), next));
    }
    let (int_part, mut i) = digits(chars, start, |c| c.is_ascii_digit())?;
    let mut text = int_part.clone();
    let mut is_float = false;
    if at(i) == Some('.') {
        is_float = true;
        let (frac, next) = if at(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            digits(chars, i + 1, |c| c.is_ascii_digit())?
        } else {
            (String::new(), i + 1)
        };
        text.push('.');
        text.push_str(&frac);
        i = next;
    }
    if matches!(at(i), Some('e' | 'E')) {
        let mut j = i + 1;
        let mut exp = String::from("e");
        if let Some(s @ ('+' | '-')) = at(j) {
            exp.push(s);
            j += 1;
        }
        if at(j).is_some_and(|c| c.is_ascii_digit()) {
            let (d, next) = digits(chars, j, |c| c.is_ascii_digit())?;
            exp.push_str(&d);
            text.push_str(&exp);
            is_float = true;
            i = next;
        } else {
            return Err("invalid decimal literal".into());
        }
    }
    if matches!(at(i), Some('j' | 'J')) {
        return Ok((Tok::Imag(text.parse().unwrap_or(0.0)), i + 1));
    }
    if is_float {
        return Ok((Tok::Float(text.parse().unwrap_or(0.0)), i));
    }
    if int_part.len() > 1 && int_part.starts_with('0') && int_part.chars().any(|c| c != '0') {
        return Err("leading zeros in decimal integer literals are not permitted".into());
    }
    Ok((Tok::Int(int_part.parse().ok()), i))
}

fn string(chars: &[char], start: usize, prefix: &str) -> Result<(Tok, usize), String> {
    let q = chars.get(start).copied().unwrap_or('\'');
    let raw = prefix.contains('r');
    let bytes = prefix.contains('b');
    let fstring = prefix.contains('f');
    let triple = chars.get(start + 1) == Some(&q) && chars.get(start + 2) == Some(&q);
    let mut i = start + if triple { 3 } else { 1 };
    let mut text = String::new();
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("unterminated string literal".into());
        };
        if c == q {
            if !triple {
                i += 1;
                break;
            }
            if chars.get(i + 1) == Some(&q) && chars.get(i + 2) == Some(&q) {
                i += 3;
                break;
            }
        }
        if (c == '\n' || c == '\r') && !triple {
            return Err("unterminated string literal".into());
        }
        if c == '\\' {
            let Some(&n) = chars.get(i + 1) else {
                return Err("unterminated string literal".into());
            };
            if raw {
                text.push('\\');
                text.push(n);
                i += 2;
                continue;
            }
            i += 2;
            match n {
                '\n' => {}
                '\\' => text.push('\\'),
                '\'' => text.push('\''),
                '"' => text.push('"'),
                'a' => text.push('\x07'),
                'b' => text.push('\x08'),
                'f' => text.push('\x0c'),
                'n' => text.push('\n'),
                'r' => text.push('\r'),
                't' => text.push('\t'),
                'v' => text.push('\x0b'),
                '0'..='7' => {
                    let mut v = n.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match chars.get(i).and_then(|c| c.to_digit(8)) {
                            Some(d) => {
                                v = v * 8 + d;
                                i += 1;
                            }
                            None => break,
                        }
                    }
                    text.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                }
                'x' | 'u' | 'U' if !(bytes && n != 'x') => {
                    let len = match n {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = chars.get(i..i + len).unwrap_or(&[]).iter().collect();
                    let v = (hex.len() == len)
                        .then(|| u32::from_str_radix(&hex, 16).ok())
                        .flatten()
                        .and_then(char::from_u32)
                        .ok_or("truncated escape")?;
                    text.push(v);
                    i += len;
                }
                'N' if !bytes => return Err("unsupported \\N escape".into()),
                other => {
                    text.push('\\');
                    text.push(other);
                }
            }
            continue;
        }
        if bytes && !c.is_ascii() {
            return Err("bytes can only contain ASCII literal characters".into());
        }
        text.push(c);
        i += 1;
    }
    Ok((
        Tok::Str {
            bytes,
            text,
            fstring,
        },
        i,
    ))
}

/// A Python literal value, enough to print `str()` of it.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Int(u128, bool),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(String),
    Bool(bool),
    None,
    Tuple(Vec<Lit>),
    List(Vec<Lit>),
    Set(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
    /// Valid but out of our reach (huge integers, `\N{…}` escapes).
    Unsupported,
}

fn complex_part(f: f64) -> String {
    let r = crate::python::float_repr(f);
    r.strip_suffix(".0").map(String::from).unwrap_or(r)
}

impl Lit {
    fn str(&self) -> String {
        match self {
            Lit::Str(s) => s.clone(),
            other => other.repr(),
        }
    }

    fn repr(&self) -> String {
        let join = |items: &[Lit]| items.iter().map(Lit::repr).collect::<Vec<_>>().join(", ");
        match self {
            Lit::Int(v, neg) => {
                if *neg && *v != 0 {
                    format!("-{v}")
                } else {
                    v.to_string()
                }
            }
            Lit::Float(f) => crate::python::float_repr(*f),
            Lit::Complex(re, im) => {
                if *re == 0.0 && re.is_sign_positive() {
                    format!("{}j", complex_part(*im))
                } else {
                    let sign = if im.is_sign_negative() { "-" } else { "+" };
                    format!("({}{sign}{}j)", complex_part(*re), complex_part(im.abs()))
                }
            }
            Lit::Str(s) => crate::python::str_repr(s),
            Lit::Bytes(s) => format!("b{}", crate::python::str_repr(s)),
            Lit::Bool(true) => "True".into(),
            Lit::Bool(false) => "False".into(),
            Lit::None => "None".into(),
            Lit::Tuple(items) if items.len() == 1 => format!("({},)", join(items)),
            Lit::Tuple(items) => format!("({})", join(items)),
            Lit::List(items) => format!("[{}]", join(items)),
            Lit::Set(items) if items.is_empty() => "set()".into(),
            Lit::Set(items) => format!("{{{}}}", join(items)),
            Lit::Dict(items) => format!(
                "{{{}}}",
                items
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k.repr(), v.repr()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Lit::Unsupported => String::new(),
        }
    }
}

struct Parser<'t> {
    toks: &'t [Tok],
    pos: usize,
    depth: usize,
}

type Fail = ();

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_name(&mut self, name: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Name(n)) if n == name) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), Fail> {
        self.depth += 1;
        if self.depth > 64 { Err(()) } else { Ok(()) }
    }

    // ---- literals, as literal_eval accepts them ----

    fn literal_list(&mut self) -> Result<Lit, Fail> {
        let first = self.literal()?;
        if !self.eat_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.pos < self.toks.len() && !matches!(self.peek(), Some(Tok::Op(")" | "]" | "}"))) {
            items.push(self.literal()?);
            if !self.eat_op(",") {
                break;
            }
        }
        Ok(Lit::Tuple(items))
    }

    fn literal_items(&mut self, close: &str) -> Result<Vec<Lit>, Fail> {
        let mut items = Vec::new();
        while !self.eat_op(close) {
            items.push(self.literal()?);
            if !self.eat_op(",") {
                if self.eat_op(close) {
                    break;
                }
                return Err(());
            }
        }
        Ok(items)
    }

    fn signed_number(&mut self) -> Result<Lit, Fail> {
        let neg = if self.eat_op("-") {
            true
        } else {
            self.eat_op("+");
            false
        };
        let v = match self.peek() {
            Some(Tok::Int(Some(v))) => Lit::Int(*v, neg),
            Some(Tok::Int(None)) => Lit::Unsupported,
            Some(Tok::Float(f)) => Lit::Float(if neg { -f } else { *f }),
            Some(Tok::Imag(f)) => Lit::Complex(0.0, if neg { -f } else { *f }),
            _ => return Err(()),
        };
        self.pos += 1;
        Ok(v)
    }

    fn literal(&mut self) -> Result<Lit, Fail> {
        self.enter()?;
        let r = self.literal_inner();
        self.depth -= 1;
        r
    }

    fn literal_inner(&mut self) -> Result<Lit, Fail> {
        match self.peek().cloned() {
            Some(Tok::Str { .. }) => {
                let mut text = String::new();
                let mut kind = None;
                while let Some(Tok::Str {
                    bytes,
                    text: t,
                    fstring,
                }) = self.peek()
                {
                    if *fstring || kind.is_some_and(|k| k != *bytes) {
                        return Err(());
                    }
                    kind = Some(*bytes);
                    text.push_str(t);
                    self.pos += 1;
                }
                Ok(if kind == Some(true) {
                    Lit::Bytes(text)
                } else {
                    Lit::Str(text)
                })
            }
            Some(Tok::Name(n)) => {
                self.pos += 1;
                match n.as_str() {
                    "True" => Ok(Lit::Bool(true)),
                    "False" => Ok(Lit::Bool(false)),
                    "None" => Ok(Lit::None),
                    "set" if self.eat_op("(") && self.eat_op(")") => Ok(Lit::Set(Vec::new())),
                    _ => Err(()),
                }
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                if self.eat_op(")") {
                    return Ok(Lit::Tuple(Vec::new()));
                }
                let v = self.literal_list()?;
                if self.eat_op(")") { Ok(v) } else { Err(()) }
            }
            Some(Tok::Op("[")) => {
                self.pos += 1;
                Ok(Lit::List(self.literal_items("]")?))
            }
            Some(Tok::Op("{")) => {
                self.pos += 1;
                if self.eat_op("}") {
                    return Ok(Lit::Dict(Vec::new()));
                }
                let first = self.literal()?;
                if self.eat_op(":") {
                    return Err(());
                }
                // Dict entries need `:`, which a policy kind can never hold; so this is a set.
                let mut items = vec![first];
                if self.eat_op(",") {
                    items.extend(self.literal_items("}")?);
                } else if !self.eat_op("}") {
                    return Err(());
                }
                let mut unique: Vec<Lit> = Vec::new();
                for i in items {
                    if !unique.contains(&i) {
                        unique.push(i);
                    }
                }
                if unique.len() > 1 {
                    // Python prints a set in hash order, which we do not reproduce.
                    return Ok(Lit::Unsupported);
                }
                Ok(Lit::Set(unique))
            }
            Some(Tok::Op("-" | "+") | Tok::Int(_) | Tok::Float(_) | Tok::Imag(_)) => {
                let left = self.signed_number()?;
                let save = self.pos;
                let sub = if self.eat_op("+") {
                    false
                } else if self.eat_op("-") {
                    true
                } else {
                    return Ok(left);
                };
                match (self.peek(), &left) {
                    (Some(Tok::Imag(im)), Lit::Int(..) | Lit::Float(_)) => {
                        let re = match left {
                            Lit::Int(v, neg) => {
                                #[allow(clippy::cast_precision_loss)]
                                let f = v as f64;
                                if neg { -f } else { f }
                            }
                            Lit::Float(f) => f,
                            _ => 0.0,
                        };
                        let im = if sub { -im } else { *im };
                        self.pos += 1;
                        Ok(Lit::Complex(re, im))
                    }
                    _ => {
                        self.pos = save;
                        Err(())
                    }
                }
            }
            _ => Err(()),
        }
    }

    // ---- any Python expression (to tell ValueError from SyntaxError) ----

    fn exprlist(&mut self) -> Result<(), Fail> {
        self.star_or_expr()?;
        while self.eat_op(",") {
            if self.pos >= self.toks.len() || matches!(self.peek(), Some(Tok::Op(")" | "]" | "}")))
            {
                break;
            }
            self.star_or_expr()?;
        }
        Ok(())
    }

    fn star_or_expr(&mut self) -> Result<(), Fail> {
        if self.eat_op("*") {
            return self.binary();
        }
        self.expr()
    }

    fn expr(&mut self) -> Result<(), Fail> {
        self.enter()?;
        let r = self.expr_inner();
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self) -> Result<(), Fail> {
        if self.eat_name("lambda") {
            return Err(());
        }
        self.or_test()?;
        if self.eat_name("if") {
            self.or_test()?;
            if !self.eat_name("else") {
                return Err(());
            }
            self.expr()?;
        }
        Ok(())
    }

    fn or_test(&mut self) -> Result<(), Fail> {
        self.not_test()?;
        while self.eat_name("or") || self.eat_name("and") {
            self.not_test()?;
        }
        Ok(())
    }

    fn not_test(&mut self) -> Result<(), Fail> {
        if self.eat_name("not") {
            self.enter()?;
            let r = self.not_test();
            self.depth -= 1;
            return r;
        }
        self.binary()?;
        loop {
            let is_cmp = matches!(
                self.peek(),
                Some(Tok::Op("<" | ">" | "==" | ">=" | "<=" | "!="))
            );
            if is_cmp {
                self.pos += 1;
            } else if self.eat_name("in") || self.eat_name("is") {
                self.eat_name("not");
            } else if matches!(self.peek(), Some(Tok::Name(n)) if n == "not") {
                self.pos += 1;
                if !self.eat_name("in") {
                    return Err(());
                }
            } else {
                return Ok(());
            }
            self.binary()?;
        }
    }

    fn binary(&mut self) -> Result<(), Fail> {
        self.unary()?;
        while matches!(
            self.peek(),
            Some(Tok::Op(
                "|" | "^" | "&" | "<<" | ">>" | "+" | "-" | "*" | "/" | "//" | "%" | "@" | "**"
            ))
        ) {
            self.pos += 1;
            self.unary()?;
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<(), Fail> {
        self.enter()?;
        let r = if matches!(self.peek(), Some(Tok::Op("+" | "-" | "~"))) {
            self.pos += 1;
            self.unary()
        } else {
            self.eat_name("await");
            self.atom().and_then(|()| self.trailers())
        };
        self.depth -= 1;
        r
    }

    fn atom(&mut self) -> Result<(), Fail> {
        match self.peek().cloned() {
            Some(Tok::Name(n)) => {
                if KEYWORDS.contains(&n.as_str())
                    && !matches!(n.as_str(), "True" | "False" | "None")
                {
                    return Err(());
                }
                self.pos += 1;
                Ok(())
            }
            Some(Tok::Int(_) | Tok::Float(_) | Tok::Imag(_)) => {
                self.pos += 1;
                Ok(())
            }
            Some(Tok::Str { bytes, .. }) => {
                while let Some(Tok::Str { bytes: b, .. }) = self.peek() {
                    if *b != bytes {
                        return Err(());
                    }
                    self.pos += 1;
                }
                Ok(())
            }
            Some(Tok::Op("...")) => {
                self.pos += 1;
                Ok(())
            }
            Some(Tok::Op(open @ ("(" | "[" | "{"))) => {
                self.pos += 1;
                let close = match open {
                    "(" => ")",
                    "[" => "]",
                    _ => "}",
                };
                if self.eat_op(close) {
                    return Ok(());
                }
                if open == "{" && self.eat_op("**") {
                    return Err(());
                }
                self.exprlist()?;
                if self.eat_name("for") {
                    return Err(());
                }
                if self.eat_op(close) { Ok(()) } else { Err(()) }
            }
            _ => Err(()),
        }
    }

    fn trailers(&mut self) -> Result<(), Fail> {
        loop {
            if self.eat_op(".") {
                match self.peek() {
                    Some(Tok::Name(n)) if !KEYWORDS.contains(&n.as_str()) => self.pos += 1,
                    _ => return Err(()),
                }
            } else if self.eat_op("(") {
                while !self.eat_op(")") {
                    if !(self.eat_op("**") || self.eat_op("*"))
                        && matches!(self.peek(), Some(Tok::Name(_)))
                        && matches!(self.toks.get(self.pos + 1), Some(Tok::Op("=")))
                    {
                        self.pos += 2;
                    }
                    self.expr()?;
                    if !self.eat_op(",") {
                        if self.eat_op(")") {
                            break;
                        }
                        return Err(());
                    }
                }
            } else if self.eat_op("[") {
                self.exprlist()?;
                if !self.eat_op("]") {
                    return Err(());
                }
            } else if self.eat_op("**") {
                return self.unary();
            } else {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> String {
        match classify(s) {
            KindMeaning::Literal(v) => v,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn literals() {
        assert_eq!(lit("True"), "True");
        assert_eq!(lit("None"), "None");
        assert_eq!(lit("'member'"), "member");
        assert_eq!(lit("\"a\\tb\""), "a\tb");
        assert_eq!(lit("1"), "1");
        assert_eq!(lit("-1"), "-1");
        assert_eq!(lit("1_000"), "1000");
        assert_eq!(lit("0x1f"), "31");
        assert_eq!(lit("1.50"), "1.5");
        assert_eq!(lit("1e3"), "1000.0");
        assert_eq!(lit("[1,'a']"), "[1, 'a']");
        assert_eq!(lit("(1,)"), "(1,)");
        assert_eq!(lit("1,2"), "(1, 2)");
        assert_eq!(lit("2j"), "2j");
        assert_eq!(lit("1+2j"), "(1+2j)");
        assert_eq!(lit("b'x'"), "b'x'");
        assert_eq!(lit("{}"), "{}");
        assert_eq!(lit("set()"), "set()");
        assert_eq!(lit("'a''b'"), "ab");
    }

    #[test]
    fn paths_and_errors() {
        assert_eq!(
            classify("user.id"),
            KindMeaning::Path(vec!["user".into(), "id".into()])
        );
        assert!(matches!(classify("project_id"), KindMeaning::Path(_)));
        assert!(matches!(classify("a-b"), KindMeaning::Path(_)));
        assert!(matches!(classify("--1"), KindMeaning::Path(_)));
        assert!(matches!(classify("f()"), KindMeaning::Path(_)));
        assert!(matches!(classify("x#y"), KindMeaning::Path(_)));
        assert!(matches!(classify(""), KindMeaning::Raises(_)));
        assert!(matches!(classify("1abc"), KindMeaning::Raises(_)));
        assert!(matches!(classify("01"), KindMeaning::Raises(_)));
        assert!(matches!(classify("if"), KindMeaning::Raises(_)));
        assert!(matches!(classify("a.if"), KindMeaning::Raises(_)));
        assert!(matches!(classify("$x"), KindMeaning::Raises(_)));
        assert!(matches!(classify("a("), KindMeaning::Raises(_)));
    }
}
