//! `mdtool serve` as a child process on the second reader of the private vpcd pair
//! (`card_sim::stack`), and the waits that go with it: a card present or gone in a reader, a
//! line of a child's output.
#![allow(dead_code, unreachable_pub, reason = "each test binary uses a part")]

use std::ffi::CString;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use card_sim::stack::SharedStack;

/// The second reader of the private vpcd pair, where `mdtool serve` puts its card.
pub const READER_2: &str = "Virtual PCD 00 01";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mdtool")
}

/// Waits until `reader` holds a card (or none).
pub fn wait_for(reader: &str, present: bool) {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let mut states = [pcsc::ReaderState::new(CString::new(reader).unwrap(), pcsc::State::UNAWARE)];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match ctx.get_status_change(Duration::from_millis(500), &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout | pcsc::Error::UnknownReader) => {}
            Err(e) => panic!("PC/SC: {e}"),
        }
        let state = states[0].event_state();
        if state.contains(pcsc::State::PRESENT) == present && !state.contains(pcsc::State::UNAVAILABLE) {
            return;
        }
        states[0].sync_current_state();
        assert!(Instant::now() < deadline, "{reader}: the card is not {}", if present { "present" } else { "absent" });
    }
}

/// Lines of a child's stdout, as they come.
pub fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let reader = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line starting with `prefix`; returns it (and every line before it).
pub fn expect_line(rx: &mpsc::Receiver<String>, prefix: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.starts_with(prefix) {
                    return line;
                }
            }
            Err(_) => panic!("no line starting with {prefix:?}; got:\n{}", seen.join("\n")),
        }
    }
}

/// `mdtool serve` on the second vpcd reader; killed (card removed) when dropped.
pub struct Served {
    child: Child,
}

impl Served {
    pub fn start(s: &SharedStack) -> Self {
        Self::start_sim(s, "piv", "PIV")
    }

    /// `mdtool serve --sim kind`, whose banner names the `card` it serves.
    pub fn start_sim(s: &SharedStack, kind: &str, card: &str) -> Self {
        let port = (s.pcsc().port() + 1).to_string();
        let mut child = Command::new(bin())
            .args(["serve", "--sim", kind, "--vpcd", &port])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let rx = lines_of(&mut child);
        let mut seen = Vec::new();
        expect_line(&rx, &format!("serving the simulated {card} card"), &mut seen);
        expect_line(&rx, &format!("connected to vpcd on port {port}"), &mut seen);
        wait_for(READER_2, true);
        Self { child }
    }

    pub fn stop(mut self) {
        self.kill();
        wait_for(READER_2, false);
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}
