//! The scanner against serde_json: grammar edges, nesting, lenient skipping (what is and is not checked,
//! truncation at every byte), exact numbers and strings, and the SSE2 masks against SWAR and bytes.

use proptest::prelude::*;

use super::*;
use crate::test_support::{json_value, repaired, serde_accepts, take_skips};

/// The scanner with its own error type.
type Scanner<'a> = crate::Scanner<'a, ScanError>;

#[test]
fn grammar_edges_agree_with_serde_json() {
    let cases: &[&[u8]] = &[
        b"{}",
        b"[]",
        b" {\"a\" : [1, -0, 0.5e-3, 1E+2, true, false, null, \"x\\u00e9\\n\"]}\n",
        b"01",
        b"1.",
        b"-",
        b"1e",
        b".5",
        b"+1",
        b"[1,]",
        b"{\"a\":1,}",
        b"{\"a\" 1}",
        b"{a:1}",
        b"\"\\x\"",
        b"\"\\u12g4\"",
        b"\"tab\there\"",
        b"\"\xff\"",
        b"nul",
        b"truex",
        b"[1 2]",
        b"{} {}",
        b"1e400",
        b"",
        b"   ",
        b"\"abcdefghijklmnopqrstuvwxyz\\\"0123456789\"",
    ];
    for c in cases {
        assert_eq!(
            validate(c).is_ok(),
            serde_accepts(c),
            "{}",
            String::from_utf8_lossy(c)
        );
    }
}

#[test]
fn nesting_limit() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    for n in [127, 128] {
        let d = deep(n);
        assert!(
            validate(d.as_bytes()).is_ok() && serde_accepts(d.as_bytes()),
            "{n}"
        );
    }
    // Deliberately stricter than serde_json's skipping (which has no limit): no device nests that deep, and
    // the scanner's recursion stays bounded.
    for n in [129, 50_000] {
        assert_eq!(
            validate(deep(n).as_bytes()).map_err(|e| e.reason()),
            Err("malformed_json")
        );
    }
}

#[test]
fn reads_keys_numbers_and_strings() {
    let mut s = Scanner::new(br#"{"a\u0062":[1.5,"x"],"c":"d\"e","n":1e400}"#);
    let mut seen = Vec::new();
    let r = s.object(|s, k| {
        match k {
            b"ab" => s.array(|s| match s.kind()? {
                Kind::Number => s.number("ab").map(|x| seen.push(x.to_string())),
                _ => s.string("ab").map(|x| seen.push(x.into_owned())),
            })?,
            b"c" => seen.push(s.string("c")?.into_owned()),
            _ => {
                s.number("n")?;
            }
        }
        Ok(())
    });
    assert_eq!(seen, ["1.5", "x", "d\"e"]);
    assert_eq!(r.map_err(|e| e.reason()), Err("malformed_json"));
}

/// Skips one whole document leniently.
fn skip_doc(b: &[u8]) -> Result<(), ScanError> {
    let mut s = Scanner::new(b);
    s.skip()?;
    s.end()
}

#[test]
fn lenient_skip_finds_the_end_of_values() {
    let ok: &[&[u8]] = &[
        br#""a\"b""#,
        br#""\\""#,
        br#"{"a":"}","b":["]",{"c":"{"}]}"#,
        br#"[{"a":[1,{"b":[]}]},[[],{}],"]\\"]"#,
        br#"{"escaped \" quote }":{"x":"\\\"}"}}"#,
        br#"[{"k":"[[[[["},{"k":"]]]]]"}]"#,
        br#""abcdefghijklmnopqrstuvwxyz0123456789\"abcdefghijklmnopqrstuvwxyz""#,
    ];
    // Escapes, quotes and brackets at every offset within the skipper's 16- and 8-byte blocks.
    let shifted: Vec<Vec<u8>> = (0..33)
        .map(|n| {
            let (a, b) = ("a".repeat(n), "b".repeat(n % 5));
            format!(r#"[{{"{a}":"{b}\"]}}\\","{b}":[["{a}"],{{}}]}},"\\\\{a}[",{{"x":"}}"}}]"#).into_bytes()
        })
        .collect();
    for c in ok.iter().copied().chain(shifted.iter().map(Vec::as_slice)) {
        assert!(serde_accepts(c), "{}", String::from_utf8_lossy(c));
        assert!(skip_doc(c).is_ok(), "{}", String::from_utf8_lossy(c));
        // Every proper prefix is cut inside the value: rejected as malformed.
        for n in 0..c.len() {
            assert_eq!(
                skip_doc(&c[..n]).map_err(|e| e.reason()),
                Err("malformed_json"),
                "{}",
                String::from_utf8_lossy(&c[..n])
            );
        }
    }
    // What is not checked inside an unread value (documented in the module doc): the other bracket kind,
    // separators, literals, escapes, control characters and UTF-8 in strings.
    let lenient: &[&[u8]] = &[
        br#"{"a":[}"#,
        b"[{]",
        br#"{"a" 1 2,,}"#,
        b"[nul, 01, tru]",
        br#""\x""#,
        b"\"tab\there\"",
        b"\"\xff\"",
    ];
    for c in lenient {
        assert!(
            !serde_accepts(c) && skip_doc(c).is_ok(),
            "{}",
            String::from_utf8_lossy(c)
        );
    }
    // Still rejected: unbalanced brackets of the value's own kind, unterminated strings, bad scalars, and
    // anything after the value.
    let bad: &[&[u8]] = &[
        b"{{}",
        b"[[]",
        br#"{"a":"}""#,
        br#"["\"]"#,
        b"nul",
        b"-",
        b"{} {}",
        b"[]]",
    ];
    for c in bad {
        assert!(skip_doc(c).is_err(), "{}", String::from_utf8_lossy(c));
    }
}

/// Reads an object the way an adapter does: members with keys of even length strictly (standing for the
/// values it reads), the others skipped leniently; any other document strictly.
fn walk(b: &[u8]) -> Result<(), ScanError> {
    let mut s = Scanner::new(b);
    if s.kind()? == Kind::Object {
        s.object(|s, k| {
            if k.len() % 2 == 0 {
                s.skip_checked()
            } else {
                s.skip()
            }
        })?;
    } else {
        s.skip_checked()?;
    }
    s.end()
}

proptest! {
    #[test]
    fn arbitrary_bytes_are_judged_like_serde_json(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(validate(&bytes).is_ok(), serde_accepts(&bytes));
    }

    #[test]
    fn mutated_json_is_judged_like_serde_json(
        v in json_value(),
        cut in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
        mode in 0u8..3,
    ) {
        let mut doc = serde_json::to_vec(&v).unwrap_or_default();
        prop_assert!(validate(&doc).is_ok());
        let at = cut.index(doc.len().max(1));
        match mode {
            0 => doc.truncate(at),
            1 => doc.insert(at.min(doc.len()), byte),
            _ => if let Some(b) = doc.get_mut(at) { *b = byte },
        }
        prop_assert_eq!(validate(&doc).is_ok(), serde_accepts(&doc), "{}", String::from_utf8_lossy(&doc));
    }

    /// Numbers read exactly like `str::parse` (the fast path: digits eight at a time, Clinger's division),
    /// at the end of the input and with more bytes after them.
    #[test]
    fn numbers_are_read_exactly(
        x in any::<f64>().prop_filter("finite", |x| x.is_finite()),
        text in "-?(0|[1-9][0-9]{0,19})(\\.[0-9]{1,19})?",
    ) {
        for t in [x.to_string(), format!("{x:e}"), format!("{x:.3}"), text] {
            let want = t.parse::<f64>().ok().filter(|x| x.is_finite());
            for doc in [t.clone(), format!("{t},\"next\":123456789}}")] {
                let got = Scanner::new(doc.as_bytes()).number_value().ok();
                prop_assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{}", doc);
            }
        }
    }

    /// Lenient skipping never rejects valid JSON and ends where serde_json does; a truncated value is
    /// always rejected.
    #[test]
    fn lenient_skip_accepts_valid_json_and_rejects_truncation(v in json_value(), cut in any::<proptest::sample::Index>()) {
        let doc = serde_json::to_vec(&v).unwrap_or_default();
        take_skips();
        prop_assert!(skip_doc(&doc).is_ok());
        if matches!(doc.first(), Some(b'{' | b'[' | b'"')) {
            prop_assert_eq!(take_skips(), vec![(0, doc.len())]);
            let at = cut.index(doc.len());
            prop_assert!(skip_doc(&doc[..at]).is_err(), "{}", String::from_utf8_lossy(&doc[..at]));
        }
    }

    /// What is read is judged exactly like serde_json: on mutated documents, the walk accepts if and only
    /// if serde_json accepts the document with the invalid values it skipped replaced by `null`.
    #[test]
    fn read_values_are_judged_like_serde_json(
        v in json_value(),
        cut in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
        mode in 0u8..3,
    ) {
        let mut doc = serde_json::to_vec(&v).unwrap_or_default();
        let at = cut.index(doc.len().max(1));
        match mode {
            0 => doc.truncate(at),
            1 => doc.insert(at.min(doc.len()), byte),
            _ => if let Some(b) = doc.get_mut(at) { *b = byte },
        }
        take_skips();
        let verdict = walk(&doc);
        let fixed = repaired(&doc, take_skips());
        let judged = fixed.as_deref().unwrap_or(&doc);
        prop_assert_eq!(verdict.is_ok(), serde_accepts(judged), "{}", String::from_utf8_lossy(&doc));
        if fixed.is_some() {
            prop_assert!(walk(judged).is_ok() || verdict.is_err());
        }
    }
}

proptest! {
    /// Key comparison by words equals byte equality at every length, for equal keys and keys that differ
    /// in one byte anywhere (the words overlap, so a difference in the overlap must be seen too).
    #[test]
    fn key_comparison_is_byte_equality(
        k in "[a-zA-Z_0-9]{1,24}",
        at in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
        extra in prop::option::of(any::<u8>()),
    ) {
        let mut key = k.clone().into_bytes();
        prop_assert!(is(&k, &key));
        let i = at.index(key.len());
        key[i] = byte;
        prop_assert_eq!(is(&k, &key), k.as_bytes() == key.as_slice());
        if let Some(b) = extra {
            key.push(b);
            prop_assert!(!is(&k, &key));
        }
    }
}

/// The lenient rule of the module doc, byte by byte: where the string, object or array starting at `b[0]`
/// ends, or `None` if it does not (truncated).
fn skip_by_bytes(b: &[u8]) -> Option<usize> {
    let open = *b.first()?;
    let mut i = 1;
    if open == b'"' {
        loop {
            match *b.get(i)? {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
    }
    let close = if open == b'{' { b'}' } else { b']' };
    let (mut depth, mut in_str) = (1u32, false);
    loop {
        let c = *b.get(i)?;
        i += 1;
        if in_str {
            match c {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
        } else if c == b'"' {
            in_str = true;
        } else if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
}

/// Bytes the 16-byte masks look for, and some they must not confuse with them.
fn special_bytes() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => prop::sample::select(&b"\"\\{}[]a \n\x1f\x20\x7f\x80\xc3\xff"[..]),
        1 => any::<u8>(),
    ]
}

proptest! {
    /// The SSE2 masks (the SWAR fallback elsewhere) equal the SWAR masks and a byte-by-byte reference on
    /// every 16-byte window of random bytes.
    #[test]
    fn block_masks_equal_swar_and_bytes(
        bytes in proptest::collection::vec(special_bytes(), 16..64),
        c in special_bytes(),
        a in special_bytes(),
        b2 in special_bytes(),
    ) {
        for w in bytes.windows(16) {
            let Some(chunk) = w.first_chunk::<16>() else { continue };
            let blk = simd::Block::load(chunk);
            let got = (blk.eq(c), blk.eq2(a, b2), blk.string_special(), blk.high());
            prop_assert_eq!(got, swar::masks(chunk, c, a, b2));
            let by_bytes = |f: &dyn Fn(u8) -> bool| {
                w.iter().enumerate().filter(|&(_, &x)| f(x)).map(|(k, _)| 1u32 << k).sum::<u32>()
            };
            prop_assert_eq!(got.0, by_bytes(&|x| x == c));
            prop_assert_eq!(got.1, by_bytes(&|x| x == a || x == b2));
            prop_assert_eq!(got.2, by_bytes(&|x| x == b'"' || x == b'\\' || x < 0x20));
            prop_assert_eq!(got.3, by_bytes(&|x| x >= 0x80));
        }
    }

    /// Skipping a string, object or array ends exactly where the byte-by-byte rule ends it, or rejects the
    /// value where that finds no end: on dense mixes of quotes, backslashes and brackets, so that each falls
    /// at every offset of the 16- and 8-byte blocks and the input ends at every position.
    #[test]
    fn lenient_skip_equals_the_byte_by_byte_rule(
        open in prop::sample::select(&b"\"{["[..]),
        body in proptest::collection::vec(special_bytes(), 0..120),
    ) {
        let mut doc = vec![open];
        doc.extend_from_slice(&body);
        for n in 1..=doc.len() {
            let mut s = Scanner::new(&doc[..n]);
            let got = s.skip().ok().map(|()| s.i);
            prop_assert_eq!(got, skip_by_bytes(&doc[..n]), "{}", String::from_utf8_lossy(&doc[..n]));
        }
        take_skips();
    }

    /// A read string (key or value) is judged and decoded like serde_json's, with its quotes, escapes,
    /// control characters and non-ASCII bytes at every offset of the blocks and the input ending anywhere.
    #[test]
    fn read_strings_equal_serde_json(
        pad in 0usize..17,
        body in proptest::collection::vec(special_bytes(), 0..60),
    ) {
        let mut doc = " ".repeat(pad).into_bytes();
        doc.push(b'"');
        doc.extend_from_slice(&body);
        for n in pad..=doc.len() {
            let text = &doc[..n];
            let got = Scanner::new(text).string("s").ok().map(|s| s.into_owned());
            // serde_json reads the first string and ignores what follows it.
            let want = serde_json::Deserializer::from_slice(text).into_iter::<String>().next().and_then(Result::ok);
            prop_assert_eq!(got, want, "{}", String::from_utf8_lossy(text));
        }
    }
}
