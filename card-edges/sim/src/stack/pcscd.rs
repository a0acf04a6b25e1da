//! A private pcscd: its own mount namespace (so its `/run/pcscd` is a private directory), its
//! own vpcd port pair, its own log, stopped when dropped or when this process exits.

use std::ffi::{CString, OsStr};
use std::fmt;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::{READER, SOCKET_ENV, VPCD_BASE_PORT, ffi};

/// Where Debian installs vpcd's reader driver.
const VPCD_DRIVERS: [&str; 2] =
    ["/usr/lib/pcsc/drivers/serial/libifdvpcd.so", "/usr/lib64/pcsc/drivers/serial/libifdvpcd.so"];
/// Prefix of the private directories (one per stack; stale ones are removed).
const DIR_PREFIX: &str = "card-edges-pcscd-";
/// How long pcscd may take to create its socket, and a card to show up (pcscd polls vpcd
/// every 400 ms).
const STARTUP: Duration = Duration::from_secs(10);
const PRESENCE: Duration = Duration::from_secs(10);

/// The supervising shell: bind-mounts the private directory on `/run/pcscd` (inside the new
/// mount namespace only), starts pcscd, and stops it when its stdin closes.
const SUPERVISOR: &str = r#"mount --bind "$1" /run/pcscd || exit 97
pcscd --foreground --debug --apdu -c "$2" >"$3" 2>&1 &
pid=$!
echo "$pid" >"$4"
cat >/dev/null
kill -TERM "$pid" 2>/dev/null
wait "$pid"
"#;

/// Why the stack could not start or do what it was asked.
#[derive(Debug)]
pub struct StackError {
    message: String,
    log: Option<PathBuf>,
}

impl StackError {
    pub(super) fn new(message: impl Into<String>, log: Option<&Path>) -> Self {
        Self { message: message.into(), log: log.map(Path::to_path_buf) }
    }

    /// pcscd's log, when pcscd was started.
    pub fn log_path(&self) -> Option<&Path> {
        self.log.as_deref()
    }
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(log) = &self.log {
            write!(f, " (pcscd log: {})", log.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for StackError {}

/// A private pcscd with one vpcd reader pair.
#[derive(Debug)]
pub struct PcscStack {
    dir: PathBuf,
    port: u16,
    socket: PathBuf,
    log: PathBuf,
    supervisor: Option<Child>,
    stdin: Option<ChildStdin>,
    /// The lock that reserves the port pair against other test processes (released by the
    /// kernel when the process exits, so it never goes stale).
    _port_lock: std::fs::File,
}

impl PcscStack {
    /// Starts pcscd on the first free port pair at or above `35963 + port_offset` (steps of
    /// 10) and waits for its socket.
    ///
    /// # Errors
    /// When not root, when pcscd, unshare or vpcd's driver are missing, or when pcscd does not
    /// come up in time.
    pub fn start(port_offset: u16) -> Result<Self, StackError> {
        let driver = VPCD_DRIVERS
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .ok_or_else(|| StackError::new("vpcd's reader driver (libifdvpcd.so) is not installed", None))?;
        remove_stale_dirs();
        let (port, port_lock) = claim_port_pair(port_offset)?;
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}-{port}", std::process::id()));
        let (run, conf) = (dir.join("pcscd"), dir.join("conf"));
        let io = |what: &str| {
            let what = what.to_owned();
            move |e: std::io::Error| StackError::new(format!("{what}: {e}"), None)
        };
        std::fs::create_dir_all(&run).map_err(io("creating the pcscd directory"))?;
        std::fs::create_dir_all(&conf).map_err(io("creating the reader configuration directory"))?;
        std::fs::create_dir_all("/run/pcscd").map_err(io("creating /run/pcscd"))?;
        let config = format!(
            "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x{port:X}\nLIBPATH {}\nCHANNELID 0x{port:X}\n",
            driver.display()
        );
        std::fs::write(conf.join("vpcd"), config).map_err(io("writing the reader configuration"))?;
        let log = dir.join("pcscd.log");
        let pid_file = dir.join("pcscd.pid");
        let mut child = Command::new("unshare")
            .args(["-m", "sh", "-c", SUPERVISOR, "sh"])
            .args([&run, &conf, &log, &pid_file])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io("starting unshare (util-linux)"))?;
        let stdin = child.stdin.take();
        let mut stack = Self {
            socket: run.join("pcscd.comm"),
            dir,
            port,
            log,
            supervisor: Some(child),
            stdin,
            _port_lock: port_lock,
        };
        stack.wait_for_socket()?;
        Ok(stack)
    }

    fn wait_for_socket(&mut self) -> Result<(), StackError> {
        let deadline = Instant::now() + STARTUP;
        while !self.socket.exists() {
            if let Some(child) = self.supervisor.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let why = if status.code() == Some(97) { "mount --bind failed (not root?)" } else { "pcscd exited" };
                return Err(self.error(format!("{why}: {status}")));
            }
            if Instant::now() > deadline {
                return Err(self.error("pcscd did not create its socket in time"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn error(&self, message: impl Into<String>) -> StackError {
        StackError::new(message, Some(&self.log))
    }

    /// The vpcd port of the first reader ([`READER`]); the second reader uses the next port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// pcscd's socket: the value of `PCSCLITE_CSOCK_NAME` for clients of this stack.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// pcscd's log (`--debug --apdu`): every APDU, and why a reader or card failed.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// A command whose PC/SC clients talk to this pcscd.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env(SOCKET_ENV, &self.socket);
        cmd
    }

    /// Makes this process's PC/SC clients (the `pcsc` crate, [`PcscCard`](card_edges::transport::pcsc::PcscCard)) talk to this pcscd.
    /// pcsc-lite reads the variable once, at the first PC/SC call of the process: call this
    /// before any, and use only one stack per process.
    pub fn export_socket(&self) {
        ffi::set_socket_env(SOCKET_ENV, &self.socket);
    }

    /// Waits until the card in [`READER`] is present (or absent).
    ///
    /// # Errors
    /// When PC/SC fails or the state is not reached in time.
    pub fn wait_for_card(&self, present: bool) -> Result<(), StackError> {
        let pcsc_error = |e: pcsc::Error| self.error(format!("PC/SC: {e}"));
        let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(pcsc_error)?;
        let reader = CString::new(READER).map_err(|_| self.error("reader name"))?;
        let mut states = [pcsc::ReaderState::new(reader, pcsc::State::UNAWARE)];
        let deadline = Instant::now() + PRESENCE;
        loop {
            match ctx.get_status_change(Duration::from_millis(500), &mut states) {
                // The reader may still be coming up.
                Ok(()) | Err(pcsc::Error::Timeout | pcsc::Error::UnknownReader) => {}
                Err(e) => return Err(pcsc_error(e)),
            }
            let state = states.first().map(pcsc::ReaderState::event_state).unwrap_or(pcsc::State::UNAWARE);
            if state.contains(pcsc::State::PRESENT) == present && !state.contains(pcsc::State::UNAVAILABLE) {
                return Ok(());
            }
            for s in &mut states {
                s.sync_current_state();
            }
            if Instant::now() > deadline {
                let want = if present { "present" } else { "absent" };
                return Err(self.error(format!("the card in {READER} is not {want} (state {state:?})")));
            }
        }
    }

    /// Resets the card through PC/SC (`SCardReconnect` with `SCARD_RESET_CARD`): vpcd resets
    /// the card and pcscd reads its ATR again.
    ///
    /// # Errors
    /// When PC/SC fails.
    pub fn reset_card(&self) -> Result<(), StackError> {
        let pcsc_error = |e: pcsc::Error| self.error(format!("PC/SC reset: {e}"));
        let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(pcsc_error)?;
        let reader = CString::new(READER).map_err(|_| self.error("reader name"))?;
        let mut card = ctx.connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY).map_err(pcsc_error)?;
        card.reconnect(pcsc::ShareMode::Shared, pcsc::Protocols::ANY, pcsc::Disposition::ResetCard)
            .map_err(pcsc_error)?;
        card.disconnect(pcsc::Disposition::LeaveCard).map_err(|(_, e)| pcsc_error(e))
    }

    /// The last `max` bytes of pcscd's log (for failure messages).
    pub fn log_tail(&self, max: usize) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        let start = text.len().saturating_sub(max);
        let start = (start..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.get(start..).unwrap_or_default().to_owned()
    }

    /// Stops pcscd and removes the private directory.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Closing the supervisor's stdin makes it stop pcscd and exit.
        drop(self.stdin.take());
        if let Some(mut child) = self.supervisor.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        self.kill_pcscd();
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Kills this stack's pcscd by the process id it recorded (the supervisor did not).
    fn kill_pcscd(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pcscd.pid"))
            && let Ok(pid) = pid.trim().parse::<u32>()
        {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
}

impl Drop for PcscStack {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The first port pair at or above `VPCD_BASE_PORT + offset` (steps of 10) that nothing
/// listens on (vpcd listens on every interface) and no other test process has claimed: the
/// claim is an exclusive lock on `card-edges-vpcd-<port>.lock` in the temporary directory,
/// since two stacks starting at once would otherwise both find the same pair free.
fn claim_port_pair(offset: u16) -> Result<(u16, std::fs::File), StackError> {
    let mut port = VPCD_BASE_PORT.saturating_add(offset);
    while port < u16::MAX - 1 {
        let free = |p: u16| TcpListener::bind((Ipv4Addr::UNSPECIFIED, p)).is_ok();
        let lock_path = std::env::temp_dir().join(format!("card-edges-vpcd-{port}.lock"));
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path);
        if let Ok(lock) = lock
            && lock.try_lock().is_ok()
            && free(port)
            && free(port + 1)
        {
            return Ok((port, lock));
        }
        port = port.saturating_add(10);
    }
    Err(StackError::new("no free vpcd port pair", None))
}

/// Removes the private directories of stacks whose process is gone.
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
