//! The JSON lines format: one element per line, blank lines skipped, and a
//! last line cut off mid-value told apart from a bad record.

use super::{is_ws, Element, RecordReader, State};
use crate::error::{ErrorKind, ReadError};
use crate::record::FromFields;

impl<R: FromFields> RecordReader<R> {
    pub(super) fn next_line(&mut self) -> Result<Option<Element<R>>, ReadError> {
        match self.state {
            State::Done => return Ok(None),
            State::Start => {
                self.skip_bom()?;
                // Lines have no structure between records; any state but
                // Start and Done just means "started".
                self.state = State::First;
            }
            _ => {}
        }
        loop {
            let line_start = self.pos;
            let mut line = Vec::new();
            // read_until retries interrupted reads itself; any other error
            // ends the stream, so a partly read line needs no accounting.
            let n = match self.input.read_until(b'\n', &mut line) {
                Ok(n) => n,
                Err(e) => return Err(self.here(ErrorKind::Io(e))),
            };
            if n == 0 {
                return if self.index == 0 {
                    Err(self.here(ErrorKind::Empty))
                } else {
                    Ok(None)
                };
            }
            self.pos += n as u64;
            let terminated = line.last() == Some(&b'\n');
            let Some(first) = line.iter().position(|b| !is_ws(*b)) else {
                continue;
            };
            let last = line.iter().rposition(|b| !is_ws(*b)).unwrap_or(first);
            line.truncate(last + 1);
            line.drain(..first);
            let offset = line_start + first as u64;
            let element = self.element(offset, line);
            if !terminated {
                // An unparsable last line cut off mid-value, or mid-character,
                // means the file was truncated, not that one record is bad
                // (a bad record would be dead-lettered and the loss missed).
                let cut_off = match &element.record {
                    Err(ReadError {
                        kind: ErrorKind::InvalidJson(e),
                        ..
                    }) => e.classify() == serde_json::error::Category::Eof,
                    Err(ReadError {
                        kind: ErrorKind::InvalidUtf8 { .. },
                        ..
                    }) => std::str::from_utf8(&element.raw).is_err_and(|e| e.error_len().is_none()),
                    _ => false,
                };
                if cut_off {
                    return Err(self.error(
                        element.index,
                        offset,
                        ErrorKind::Truncated {
                            inside: "object",
                            eof_at: self.pos,
                        },
                    ));
                }
            }
            return Ok(Some(element));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{bad, fatal, offset_of, ok, read};
    use crate::fixtures::nth;
    use crate::{ErrorKind, Format};

    #[test]
    fn json_lines_skip_blanks_and_keep_going_after_bad_lines() {
        let (a, b) = (nth(0), nth(1));
        let text = format!("{a}\r\n\n   \n  {{\"crime_id\": }}\n[1]\n\t{b}");
        let items = read(text.as_bytes(), Format::Lines);
        assert_eq!(items.len(), 4);
        let e = ok(&items[0]);
        assert_eq!((e.index, e.offset, e.raw.as_slice()), (0, 0, a.as_bytes()));
        let err = bad(&items[1]);
        assert!(matches!(err.kind, ErrorKind::InvalidJson(_)), "{err}");
        assert_eq!(
            (err.index, err.offset),
            (1, offset_of(text.as_bytes(), b"{\"crime_id\": }"))
        );
        let err = bad(&items[2]);
        assert!(matches!(
            err.kind,
            ErrorKind::NotAnObject { found: "an array" }
        ));
        let e = ok(&items[3]);
        assert_eq!(
            (e.index, e.offset),
            (3, offset_of(text.as_bytes(), b.as_bytes()))
        );
        assert_eq!(e.raw, b.as_bytes());
    }

    #[test]
    fn json_lines_cut_off_last_line_is_truncation() {
        let a = nth(0);
        let cut = &nth(1)[..40];
        let text = format!("{a}\n{cut}");
        let items = read(text.as_bytes(), Format::Lines);
        assert_eq!(items.len(), 2);
        ok(&items[0]);
        let err = fatal(&items);
        assert!(
            matches!(err.kind, ErrorKind::Truncated { eof_at, .. } if eof_at == text.len() as u64),
            "{err}"
        );
        assert_eq!((err.index, err.offset), (1, a.len() as u64 + 1));
        // The same line with its newline is just one bad record.
        let items = read(format!("{text}\n").as_bytes(), Format::Lines);
        bad(&items[1]);
    }

    #[test]
    fn json_lines_cut_off_mid_character_is_truncation() {
        // Found by tests/fuzz_reader.rs: the cut left half a UTF-8
        // character, which read as a bad record, not a truncated file.
        let a = nth(0);
        let text = format!("{a}\n{{\"crime_id\": \"\u{e9}");
        let cut = &text.as_bytes()[..text.len() - 1];
        let items = read(cut, Format::Lines);
        let err = fatal(&items);
        assert!(matches!(err.kind, ErrorKind::Truncated { .. }), "{err}");
        assert_eq!((err.index, err.offset), (1, a.len() as u64 + 1));
    }
}
