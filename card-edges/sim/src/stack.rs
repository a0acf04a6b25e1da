//! Test support: a private pcscd with its own vpcd reader, serving a simulated card, so that
//! tests can run real PC/SC programs (OpenSC, yubico-piv-tool) and this crate's PC/SC
//! transport against it, beside any other pcscd on the machine.
//!
//! pcscd 1.9.9 always puts its socket in `/run/pcscd`, and vpcd takes its port from the reader
//! configuration. So pcscd runs in its own mount namespace (`unshare -m`, root only) with a
//! private directory bind-mounted on `/run/pcscd`, and a reader configuration naming a free
//! port pair (scanned upward from 35963 + offset in steps of 10). PC/SC clients find it through
//! `PCSCLITE_CSOCK_NAME`, which [`shared`] sets for this process and [`Stack::command`] sets for
//! child processes.
//!
//! The stack serves any simulated card ([`Stack`] is generic over it, PIV by default). One stack
//! per test process: [`shared`] (a PIV card) or [`shared_gids`] (a GIDS card) starts it once and
//! hands out a guard, so the tests of one binary take turns; a process cannot have both, since
//! pcsc-lite reads the socket's location once. pcscd is stopped when the [`PcscStack`] is dropped, or, for the shared
//! stack (a static, never dropped), when the test process exits: pcscd's supervising shell
//! waits for its stdin, a pipe from this process, to close.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let stack = card_sim::stack::shared()?; // default card, reset, present
//! let out = stack.command("opensc-tool").args(["-r", "0", "-a"]).output()?;
//! assert!(out.status.success(), "pcscd log: {}", stack.pcsc().log_path().display());
//! println!("{} APDUs so far", stack.sim().counters().apdus);
//! # Ok(()) }
//! ```

mod ffi;
mod pcscd;

use std::ffi::{CString, OsStr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use crate::vpcd::{VpcdServer, serve};
use crate::{GidsSim, PivSim};
use card_edges::transport::memory::{CardSlot, VirtualCard};
use card_edges::transport::pcsc::PcscCard;

pub use pcscd::{PcscStack, StackError};

/// A per-process scratch directory for the files the third-party tools of a test read and
/// write (keys, certificates, signatures), removed with it.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// `$TMPDIR/card-sim-<pid>-<name>`, created.
    ///
    /// # Panics
    /// When the directory cannot be created (a test helper: the test cannot go on).
    #[allow(clippy::expect_used, reason = "a test helper")]
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("card-sim-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Self(dir)
    }

    /// The path of `file` in it.
    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// vpcd's default port: private stacks scan upward from here.
pub const VPCD_BASE_PORT: u16 = 35963;
/// The offset [`shared`] starts its scan at: skips the system vpcd's pair (35963/35964).
pub const SHARED_PORT_OFFSET: u16 = 10;
/// The offset [`shared_gids`] starts its scan at, above the PIV stacks of parallel test
/// binaries (each claims the first free pair, so they also coexist if they overlap).
pub const GIDS_PORT_OFFSET: u16 = 200;
/// The environment variable pcsc-lite clients read to find pcscd's socket.
pub const SOCKET_ENV: &str = "PCSCLITE_CSOCK_NAME";
/// The reader that the first vpcd slot of the private configuration becomes.
pub const READER: &str = "Virtual PCD 00 00";

/// The OpenSC PKCS#11 module, where distributions install it.
pub fn opensc_pkcs11_module() -> Option<PathBuf> {
    let dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"];
    dirs.iter()
        .flat_map(|d| [Path::new(d).join("opensc-pkcs11.so"), Path::new(d).join("pkcs11/opensc-pkcs11.so")])
        .find(|p| p.exists())
}

/// What a stack can serve: a simulated card handle whose clones share one card.
pub trait StackCard: VirtualCard + Clone + core::fmt::Debug + 'static {}

impl StackCard for PivSim {}
impl StackCard for GidsSim {}

/// A private pcscd serving one simulated card on its vpcd reader.
#[derive(Debug)]
pub struct Stack<C: StackCard = PivSim> {
    // Field order is drop order: the card disconnects before pcscd stops.
    server: VpcdServer,
    slot: CardSlot,
    sim: C,
    pcsc: PcscStack,
}

impl<C: StackCard> Stack<C> {
    /// Starts pcscd (see [`PcscStack::start`]) and serves `sim` on its first reader. Once this
    /// process's PC/SC clients point at it ([`PcscStack::export_socket`]),
    /// [`Stack::wait_for_card`] tells when pcscd sees the card ([`shared`] does both).
    ///
    /// # Errors
    /// As [`PcscStack::start`].
    pub fn start(sim: C, port_offset: u16) -> Result<Self, StackError> {
        let pcsc = PcscStack::start(port_offset)?;
        let slot = CardSlot::new(sim.clone());
        let server = serve(slot.clone(), pcsc.port());
        Ok(Self { server, slot, sim, pcsc })
    }

    /// The simulated card (a handle: inspect it, change it behind the host's back).
    pub fn sim(&self) -> &C {
        &self.sim
    }

    /// The slot the card is served from (in-process connections: [`CardSlot::connect`]).
    pub fn slot(&self) -> &CardSlot {
        &self.slot
    }

    /// The vpcd client.
    pub fn server(&self) -> &VpcdServer {
        &self.server
    }

    /// The pcscd.
    pub fn pcsc(&self) -> &PcscStack {
        &self.pcsc
    }

    /// A command whose PC/SC clients talk to this stack's pcscd.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        self.pcsc.command(program)
    }

    /// Connects to the card through PC/SC with this crate's transport.
    ///
    /// # Errors
    /// As [`PcscCard::connect`].
    pub fn connect(&self) -> crate::Result<PcscCard> {
        let reader = CString::new(READER).map_err(|_| crate::Error::InvalidArgument("reader name"))?;
        Ok(PcscCard::connect(&reader)?)
    }

    /// Resets the card (security status cleared) and waits until pcscd has it again: what
    /// every test does first.
    ///
    /// # Errors
    /// When PC/SC fails.
    pub fn reset_card(&self) -> Result<(), StackError> {
        self.wait_for_card(true)?;
        self.slot.reset();
        self.pcsc.reset_card()?;
        self.wait_for_card(true)
    }

    /// Replaces the card (e.g. with one provisioned otherwise), then resets it so that pcscd
    /// reads the new card's ATR.
    ///
    /// # Errors
    /// When PC/SC fails.
    pub fn insert(&mut self, sim: C) -> Result<(), StackError> {
        self.slot.insert(sim.clone());
        self.sim = sim;
        self.reset_card()
    }

    /// Waits until pcscd sees the card present (or absent).
    ///
    /// # Errors
    /// As [`PcscStack::wait_for_card`].
    pub fn wait_for_card(&self, present: bool) -> Result<(), StackError> {
        self.pcsc.wait_for_card(present)
    }
}

/// The process's one stack: a PIV one ([`shared`]) or a GIDS one ([`shared_gids`]).
static SHARED: OnceLock<Result<Mutex<Stack<PivSim>>, String>> = OnceLock::new();
static SHARED_GIDS: OnceLock<Result<Mutex<Stack<GidsSim>>, String>> = OnceLock::new();
/// Which kind of shared stack this process started.
static STARTED: Mutex<Option<&'static str>> = Mutex::new(None);

/// Exclusive use of the shared stack. On a failing test (a panic while held) it prints
/// pcscd's log path.
#[derive(Debug)]
pub struct SharedStack<C: StackCard = PivSim> {
    guard: MutexGuard<'static, Stack<C>>,
}

impl<C: StackCard> core::ops::Deref for SharedStack<C> {
    type Target = Stack<C>;
    fn deref(&self) -> &Stack<C> {
        &self.guard
    }
}

impl<C: StackCard> core::ops::DerefMut for SharedStack<C> {
    fn deref_mut(&mut self) -> &mut Stack<C> {
        &mut self.guard
    }
}

impl<C: StackCard> Drop for SharedStack<C> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("pcscd log: {}", self.guard.pcsc.log_path().display());
        }
    }
}

/// Starts the shared stack on first use (default PIV card, port scan from 35973, this process's
/// PC/SC clients pointed at it), then waits for the other tests of this process to finish
/// with it, resets the card, and hands it out.
///
/// # Errors
/// When the stack cannot start (the error is kept: every later call fails the same way), the
/// process already runs a GIDS stack, or the card cannot be reset.
pub fn shared() -> Result<SharedStack, StackError> {
    shared_stack(&SHARED, "PIV", || PivSim::default_card().map_err(|e| e.to_string()), SHARED_PORT_OFFSET)
}

/// As [`shared`], serving [`GidsSim::default_card`] (port scan from 36163).
///
/// # Errors
/// As [`shared`]; also when the process already runs a PIV stack.
pub fn shared_gids() -> Result<SharedStack<GidsSim>, StackError> {
    shared_stack(&SHARED_GIDS, "GIDS", || GidsSim::default_card().map_err(|e| e.to_string()), GIDS_PORT_OFFSET)
}

fn shared_stack<C: StackCard>(
    cell: &'static OnceLock<Result<Mutex<Stack<C>>, String>>,
    kind: &'static str,
    card: impl FnOnce() -> Result<C, String>,
    port_offset: u16,
) -> Result<SharedStack<C>, StackError> {
    let stack = cell.get_or_init(|| {
        {
            let mut started = STARTED.lock().unwrap_or_else(PoisonError::into_inner);
            match *started {
                Some(other) if other != kind => {
                    return Err(format!(
                        "this process already runs a {other} stack; PC/SC clients reach one pcscd per process"
                    ));
                }
                _ => *started = Some(kind),
            }
        }
        let stack = Stack::start(card()?, port_offset).map_err(|e| e.to_string())?;
        stack.pcsc.export_socket();
        stack.wait_for_card(true).map_err(|e| e.to_string())?;
        Ok(Mutex::new(stack))
    });
    let stack = stack.as_ref().map_err(|e| StackError::new(e.clone(), None))?;
    let guard = stack.lock().unwrap_or_else(PoisonError::into_inner);
    let shared = SharedStack { guard };
    shared.reset_card()?;
    Ok(shared)
}
