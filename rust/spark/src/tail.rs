//! Following a file that another process appends to (Spark's progress file,
//! its log), yielding complete lines only.
//!
//! The writer (the PySpark job) flushes whenever it likes, so a read can end
//! in the middle of a line; that partial line is held back until its newline
//! arrives, because half a JSON object does not parse. The file may not exist
//! yet when following starts (Spark creates it at the first progress event),
//! and may be replaced or truncated by a rerun; both are handled by reopening
//! the path on every poll and starting over when it shrinks.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Incremental reader of the complete lines appended to one file.
#[derive(Debug)]
pub struct LineTailer {
    path: PathBuf,
    /// Bytes consumed so far, complete lines and the held partial line.
    offset: u64,
    /// The last line read, still waiting for its newline.
    partial: Vec<u8>,
}

impl LineTailer {
    /// Follows `path` from its beginning; the file need not exist yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LineTailer {
            path: path.into(),
            offset: 0,
            partial: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The complete lines appended since the last poll, without their line
    /// endings (`\n` or `\r\n`). A missing file yields no lines.
    pub fn poll(&mut self) -> io::Result<Vec<String>> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        if file.metadata()?.len() < self.offset {
            // Truncated or replaced by a shorter file: what was held belongs
            // to the old content.
            self.offset = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut fresh = Vec::new();
        file.read_to_end(&mut fresh)?;
        self.offset += fresh.len() as u64;
        self.partial.extend_from_slice(&fresh);

        let Some(last_newline) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        let rest = self.partial.split_off(last_newline + 1);
        let complete = std::mem::replace(&mut self.partial, rest);
        Ok(complete[..last_newline]
            .split(|&b| b == b'\n')
            .map(line_text)
            .collect())
    }

    /// Polls once more, then also returns the final unterminated line, for
    /// when the writer has exited and no newline will come.
    pub fn finish(&mut self) -> io::Result<Vec<String>> {
        let mut lines = self.poll()?;
        if !self.partial.is_empty() {
            lines.push(line_text(&std::mem::take(&mut self.partial)));
        }
        Ok(lines)
    }
}

fn line_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    // A log may hold bytes from any encoding; a lossy line beats an error.
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn waits_for_the_file_to_appear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress.jsonl");
        let mut tail = LineTailer::new(&path);
        assert_eq!(tail.path(), path);
        assert!(tail.poll().unwrap().is_empty());
        append(&path, "{\"a\":1}\n");
        assert_eq!(tail.poll().unwrap(), ["{\"a\":1}"]);
        assert!(tail.poll().unwrap().is_empty());
    }

    #[test]
    fn holds_a_partial_line_until_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        let mut tail = LineTailer::new(&path);
        append(&path, "one\ntw");
        assert_eq!(tail.poll().unwrap(), ["one"]);
        append(&path, "o\r\nthr");
        assert_eq!(tail.poll().unwrap(), ["two"]);
        append(&path, "ee");
        assert!(tail.poll().unwrap().is_empty());
        append(&path, "\n\nfour\n");
        assert_eq!(tail.poll().unwrap(), ["three", "", "four"]);
    }

    #[test]
    fn finish_returns_the_unterminated_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        let mut tail = LineTailer::new(&path);
        append(&path, "a\nb");
        assert_eq!(tail.finish().unwrap(), ["a", "b"]);
        assert!(tail.finish().unwrap().is_empty());
        // A file that never appeared finishes empty too.
        assert!(LineTailer::new(dir.path().join("none"))
            .finish()
            .unwrap()
            .is_empty());
    }

    #[test]
    fn starts_over_when_the_file_shrinks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        let mut tail = LineTailer::new(&path);
        append(&path, "old line one\nold partial");
        assert_eq!(tail.poll().unwrap(), ["old line one"]);
        std::fs::write(&path, "new\n").unwrap();
        assert_eq!(tail.poll().unwrap(), ["new"]);
    }

    #[test]
    fn survives_invalid_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        std::fs::write(&path, b"ok \xff\n").unwrap();
        assert_eq!(LineTailer::new(&path).poll().unwrap(), ["ok \u{fffd}"]);
    }
}
