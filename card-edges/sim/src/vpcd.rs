//! Serves a [`CardSlot`] to vsmartcard's vpcd reader driver (pcscd's `libifdvpcd`), so that
//! PC/SC programs and in-process code share one card.
//!
//! vpcd listens; the card connects. The server therefore connects to `127.0.0.1:<port>` (never
//! another interface: vpcd listens on all of them) and reconnects whenever vpcd is not up yet
//! or goes away (pcscd restarted). `TCP_NODELAY` is set once and `TCP_QUICKACK` before every
//! read: vpcd writes the length and the APDU separately, and without them each APDU waits
//! 40-55 ms for a delayed ACK (2-3 ms with them).
//!
//! vpcd's power-off and reset reach the card as [`CardSlot::reset`], so connections through
//! [`MemoryCard`](card_edges::transport::memory::MemoryCard) see the reset as PC/SC clients do.
//!
//! An empty slot is a closed connection: vpcd reports a card only while one is connected, and
//! answering its presence poll with an empty ATR would leave pcscd waiting. So the connection
//! is closed when the card is removed from the slot, and made again when one is inserted.

use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use card_edges::transport::memory::CardSlot;

/// How long to wait between attempts to reach vpcd.
const RETRY: Duration = Duration::from_millis(50);
/// Answer to an APDU when the slot is empty (vpcd only sends APDUs to a present card).
const NO_CARD: [u8; 2] = [0x6F, 0x00];

/// A running vpcd client. Dropping it stops it.
#[derive(Debug)]
pub struct VpcdServer {
    port: u16,
    stop: Arc<AtomicBool>,
    connected: Arc<AtomicBool>,
    stream: Arc<Mutex<Option<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts serving `slot` to the vpcd listening on `127.0.0.1:port`, in a background thread that
/// keeps (re)connecting until stopped.
pub fn serve(slot: CardSlot, port: u16) -> VpcdServer {
    let stop = Arc::new(AtomicBool::new(false));
    let connected = Arc::new(AtomicBool::new(false));
    let stream = Arc::new(Mutex::new(None));
    let worker = Worker { slot, port, stop: stop.clone(), connected: connected.clone(), stream: stream.clone() };
    let thread = std::thread::Builder::new().name(format!("vpcd-{port}")).spawn(move || worker.run()).ok();
    VpcdServer { port, stop, connected, stream, thread }
}

impl VpcdServer {
    /// The vpcd port served.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the card is connected to vpcd right now.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Whether the server thread runs (it does unless the system refused to start a thread).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Disconnects from vpcd (pcscd sees the card removed) and stops the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(s) = self.stream.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for VpcdServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Worker {
    slot: CardSlot,
    port: u16,
    stop: Arc<AtomicBool>,
    connected: Arc<AtomicBool>,
    stream: Arc<Mutex<Option<TcpStream>>>,
}

impl Worker {
    fn run(self) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let watcher = self.watch_removal();
        while !self.stop.load(Ordering::SeqCst) {
            if !self.slot.is_present() {
                std::thread::sleep(RETRY);
                continue;
            }
            match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                Ok(stream) => {
                    let _ = self.session(stream);
                    self.connected.store(false, Ordering::SeqCst);
                    *self.stream.lock().unwrap_or_else(PoisonError::into_inner) = None;
                }
                Err(_) => std::thread::sleep(RETRY),
            }
        }
        if let Some(w) = watcher {
            let _ = w.join();
        }
    }

    /// Closes the connection when the slot empties (the session is blocked reading vpcd's next
    /// message, so it cannot notice by itself).
    fn watch_removal(&self) -> Option<JoinHandle<()>> {
        let (slot, stop, stream) = (self.slot.clone(), self.stop.clone(), self.stream.clone());
        std::thread::Builder::new()
            .name(format!("vpcd-{}-watch", self.port))
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if !slot.is_present()
                        && let Some(s) = stream.lock().unwrap_or_else(PoisonError::into_inner).as_ref()
                    {
                        let _ = s.shutdown(Shutdown::Both);
                    }
                    std::thread::sleep(RETRY);
                }
            })
            .ok()
    }

    /// Serves one connection until vpcd closes it or the server stops.
    fn session(&self, stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        *self.stream.lock().unwrap_or_else(PoisonError::into_inner) = Some(stream.try_clone()?);
        // A stop requested while connecting would have found no stream to shut down.
        if self.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.connected.store(true, Ordering::SeqCst);
        let mut conn = vpicc::Connection::from(stream.try_clone()?);
        let mut card = SlotCard { slot: self.slot.clone(), atr: Vec::new() };
        while !self.stop.load(Ordering::SeqCst) {
            card.refresh_atr();
            quickack(&stream);
            conn.poll(&mut card)?;
        }
        Ok(())
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn quickack(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn quickack(_stream: &TcpStream) {}

/// The slot as vpicc sees a card. The ATR is cached because vpicc borrows it; it is refreshed
/// before every message (the card may have changed, or switched extended length).
struct SlotCard {
    slot: CardSlot,
    atr: Vec<u8>,
}

impl SlotCard {
    fn refresh_atr(&mut self) {
        // An empty ATR tells vpcd the card is gone.
        self.atr = self.slot.with_card(|c| c.atr()).unwrap_or_default();
    }
}

impl vpicc::VSmartCard for SlotCard {
    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn power_on(&mut self) {}

    fn power_off(&mut self) {
        self.slot.reset();
    }

    fn reset(&mut self) {
        self.slot.reset();
    }

    fn execute(&mut self, msg: &[u8]) -> Vec<u8> {
        self.slot.with_card(|c| c.process(msg)).unwrap_or_else(|| NO_CARD.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PivSim;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn send(s: &mut TcpStream, msg: &[u8]) {
        let mut m = u16::try_from(msg.len()).unwrap().to_be_bytes().to_vec();
        m.extend_from_slice(msg);
        s.write_all(&m).unwrap();
    }

    fn recv(s: &mut TcpStream) -> Vec<u8> {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut m = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut m).unwrap();
        m
    }

    /// Plays vpcd: listens, and speaks the vpcd protocol to the card that connects.
    #[test]
    fn speaks_the_vpcd_protocol_and_reconnects() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let sim = PivSim::default_card().unwrap();
        let slot = CardSlot::new(sim.clone());
        let server = serve(slot.clone(), port);

        let (mut s, peer) = listener.accept().unwrap();
        assert!(peer.ip().is_loopback());
        send(&mut s, &[0x04]);
        assert_eq!(recv(&mut s), sim.atr());
        send(&mut s, &[0x01]);
        send(&mut s, &hex_literal::hex!("00A4040009A00000030800001000"));
        let rsp = recv(&mut s);
        assert_eq!(rsp[0], 0x61);
        assert_eq!(&rsp[rsp.len() - 2..], &[0x90, 0x00]);
        // VERIFY, then a reset from "pcscd" clears it.
        send(&mut s, &hex_literal::hex!("0020008008313233343536FFFF"));
        assert_eq!(recv(&mut s), [0x90, 0x00]);
        assert!(sim.pin_verified());
        send(&mut s, &[0x02]);
        send(&mut s, &[0x04]);
        recv(&mut s);
        assert!(!sim.pin_verified());
        assert!(server.is_connected());

        // vpcd goes away and comes back: the card reconnects by itself.
        drop(s);
        let (mut s, _) = listener.accept().unwrap();
        send(&mut s, &[0x04]);
        assert_eq!(recv(&mut s), sim.atr());
        // Removing the card closes the connection (vpcd: no card); inserting one reconnects.
        slot.remove();
        let mut byte = [0u8; 1];
        assert_eq!(s.read(&mut byte).unwrap_or(0), 0, "the card's side closed");
        slot.insert(sim.clone());
        let (mut s, _) = listener.accept().unwrap();
        send(&mut s, &[0x04]);
        assert_eq!(recv(&mut s), sim.atr());
        server.stop();
    }
}
