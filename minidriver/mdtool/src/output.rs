//! Standard output: text for people, or (with `--json`) JSON for scripts. Notices and the
//! trace go to stderr, so `--json` output stays one clean document.

use std::io::Write;

/// Where a command writes its results.
#[derive(Debug)]
pub(crate) struct Out {
    json: bool,
    printed: bool,
}

impl Out {
    /// Text output, or JSON when `json`.
    pub(crate) fn new(json: bool) -> Self {
        Self { json, printed: false }
    }

    /// Whether JSON was asked for.
    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// A line of text (nothing in JSON mode), flushed at once (`watch` is read line by line).
    pub(crate) fn line(&mut self, text: impl AsRef<str>) {
        if !self.json {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{}", text.as_ref());
            let _ = o.flush();
        }
    }

    /// Whether a JSON document was printed already.
    pub(crate) fn printed_json(&self) -> bool {
        self.printed
    }

    /// A JSON document (JSON mode only), on one line.
    pub(crate) fn json_value(&mut self, value: &serde_json::Value) {
        if self.json {
            self.printed = true;
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{value}");
            let _ = o.flush();
        }
    }

    /// Raw bytes on stdout, whatever the mode (`cat`).
    pub(crate) fn bytes(&mut self, data: &[u8]) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(data);
        let _ = o.flush();
    }
}

/// A one-line notice on stderr.
pub(crate) fn notice(text: impl AsRef<str>) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "mdtool: {}", text.as_ref());
}
