//! The simulated board's HIL port: a pseudo-terminal speaking SLCAN, its slave symlinked at the
//! path given by `--board sim:PATH`.
//!
//! Link clients come and go (every `rig` one-shot opens the port, acts and closes it). We do *not*
//! keep the slave open ourselves: a client that dies after setting TIOCEXCL would otherwise lock
//! everybody out until we restart. The price is that the master reads EIO while no client has the
//! slave open; that is "nobody attached", not an error, so we poll for a client every
//! [`DETACHED_POLL`] and write nothing meanwhile (a late client would otherwise read stale status).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chargerig_link::slcan::{encode_frame, SlcanCommand, SlcanDecoder, SlcanItem};
use chargerig_link::{Frame, LinkStats};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// How often we look for a client while none is attached.
pub const DETACHED_POLL: Duration = Duration::from_millis(10);

/// The longest the port waits, as it closes, for its client to read what was written.
pub const FLUSH_WAIT: Duration = Duration::from_secs(1);

/// When the unread bytes cannot be counted (see `flush`), how long the client gets instead.
const FLUSH_BLIND: Duration = Duration::from_millis(200);

/// SLCAN version reply (`V` command): hardware 01, software 01.
const VERSION_REPLY: &str = "V0101\r";
/// SLCAN serial number reply (`N` command).
const SERIAL_REPLY: &str = "NSIM1\r";

/// Why the port could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PtyError {
    #[error("cannot create a pseudo-terminal: {0}")]
    Open(Errno),
    #[error("cannot set up the pseudo-terminal {path}: {source}")]
    Setup { path: PathBuf, source: Errno },
    #[error("{path} exists and is not a symlink: refusing to replace it (give --board sim: a free path)")]
    NotASymlink { path: PathBuf },
    #[error("board {path} is in use by another charger: stop it or give this one another --board sim:PATH")]
    InUse { path: PathBuf },
    #[error("cannot claim the board {path}: {source}")]
    Claim {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the symlink {path} -> {target}: {source}")]
    Symlink {
        path: PathBuf,
        target: PathBuf,
        source: std::io::Error,
    },
}

/// Counters of the port, shared with whoever wants to log or inspect them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PortStats {
    /// Frames and rejects on the link, as the link crate counts them.
    pub link: LinkStats,
    /// Board → rig frames received from the rig side: wrong direction, ignored.
    pub wrong_direction: u64,
    /// Frames we could not write because the client did not read (pty buffer full).
    pub dropped_out: u64,
    /// Times a client attached to the slave.
    pub attachments: u64,
    /// SLCAN commands we do not support (answered with BEL).
    pub unsupported: u64,
    /// Stray BELs from the rig side.
    pub stray_bel: u64,
}

/// The master side of the pty and the symlink pointing at its slave.
pub struct PtyPort {
    master: Master,
    link: PathBuf,
    slave: PathBuf,
    /// Our claim on the board path (see `claim_board`), held as long as the port lives.
    _claim: std::os::unix::net::UnixListener,
}

/// The master fd, registered with the reactor only while a client is attached: once the slave
/// hangs up, epoll reports HUP and tokio keeps "read closed" readiness for good, so a
/// registration cannot outlive a client (it would spin). Each client gets a fresh one.
enum Master {
    Detached(OwnedFd),
    Attached(AsyncFd<OwnedFd>),
    /// Only during a transition.
    Moving,
}

impl Master {
    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match self {
            Master::Detached(fd) => Some(fd.as_fd()),
            Master::Attached(afd) => Some(afd.get_ref().as_fd()),
            Master::Moving => None,
        }
    }

    fn attach(&mut self) -> std::io::Result<()> {
        if let Master::Detached(fd) = std::mem::replace(self, Master::Moving) {
            // SAFETY: the OwnedFd moves into the AsyncFd, so the descriptor stays open and is
            // the same description for the AsyncFd's whole life.
            match unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
                Ok(afd) => *self = Master::Attached(afd),
                Err(e) => {
                    let (fd, err) = e.into_parts();
                    *self = Master::Detached(fd);
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn detach(&mut self) {
        if let Master::Attached(afd) = std::mem::replace(self, Master::Moving) {
            *self = Master::Detached(afd.into_inner());
        }
    }

    /// Waits until the attached fd is readable and reads; pends forever while detached.
    async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Master::Attached(afd) => loop {
                let mut guard = afd.readable().await?;
                let hung_up = guard.ready().is_read_closed();
                match guard.try_io(|fd| {
                    nix::unistd::read(fd.get_ref().as_fd(), buf).map_err(std::io::Error::from)
                }) {
                    Ok(result) => return result,
                    // A hang-up was seen but the read would block: a new client opened the slave
                    // before we read the EIO. The stale hang-up must go (see `Master`).
                    Err(_would_block) if hung_up => return Err(REREGISTER.into()),
                    Err(_would_block) => continue,
                }
            },
            _ => std::future::pending().await,
        }
    }
}

impl PtyPort {
    /// Creates the pty, makes the slave raw and points `link` at it (a stale symlink is replaced).
    pub fn open(link: &Path) -> Result<PtyPort, PtyError> {
        let claim = claim_board(link)?;
        let pair = nix::pty::openpty(None, None).map_err(PtyError::Open)?;
        let slave_path = nix::unistd::ttyname(pair.slave.as_fd()).map_err(PtyError::Open)?;
        let setup = |source| PtyError::Setup {
            path: slave_path.clone(),
            source,
        };
        let mut tio = tcgetattr(pair.slave.as_fd()).map_err(setup)?;
        cfmakeraw(&mut tio);
        tcsetattr(pair.slave.as_fd(), SetArg::TCSANOW, &tio).map_err(setup)?;
        fcntl(pair.master.as_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(setup)?;
        // Our slave fd goes now: from here on only clients hold it (see the module docs).
        drop(pair.slave);

        if let Some(parent) = link.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| PtyError::Symlink {
                path: link.to_path_buf(),
                target: slave_path.clone(),
                source,
            })?;
        }
        match std::fs::symlink_metadata(link) {
            Ok(meta) if meta.file_type().is_symlink() => {
                info!(path = %link.display(), "replacing a stale board symlink");
                let _ = std::fs::remove_file(link);
            }
            Ok(_) => {
                return Err(PtyError::NotASymlink {
                    path: link.to_path_buf(),
                })
            }
            Err(_) => {}
        }
        std::os::unix::fs::symlink(&slave_path, link).map_err(|source| PtyError::Symlink {
            path: link.to_path_buf(),
            target: slave_path.clone(),
            source,
        })?;
        let master = Master::Detached(pair.master);
        info!(link = %link.display(), slave = %slave_path.display(), "board HIL port ready (SLCAN)");
        Ok(PtyPort {
            master,
            link: link.to_path_buf(),
            slave: slave_path,
            _claim: claim,
        })
    }

    /// The slave device (`/dev/pts/N`).
    pub fn slave_path(&self) -> &Path {
        &self.slave
    }
}

impl Drop for PtyPort {
    /// Removes the symlink on a clean exit, unless someone re-pointed it meanwhile.
    fn drop(&mut self) {
        if std::fs::read_link(&self.link).ok().as_deref() == Some(self.slave.as_path()) {
            let _ = std::fs::remove_file(&self.link);
        }
    }
}

/// Claims the board path for this process: a listening socket in the abstract namespace, named
/// after the absolute path. The kernel frees it when the process dies (even by SIGKILL, so a
/// power cut leaves nothing stale) and nothing on disk can be deleted to get around it.
fn claim_board(link: &Path) -> Result<std::os::unix::net::UnixListener, PtyError> {
    use std::hash::{Hash as _, Hasher as _};
    use std::os::linux::net::SocketAddrExt as _;
    let claim_err = |source| PtyError::Claim {
        path: link.to_path_buf(),
        source,
    };
    let abs = std::path::absolute(link).map_err(claim_err)?;
    let abs = match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map(|p| p.join(name))
            .unwrap_or_else(|_| abs.clone()),
        _ => abs,
    };
    let mut name = format!("chargerig-board:{}", abs.display());
    if name.len() > 100 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        abs.hash(&mut h);
        name = format!("chargerig-board#{:016x}", h.finish());
    }
    let addr =
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).map_err(claim_err)?;
    match std::os::unix::net::UnixListener::bind_addr(&addr) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(PtyError::InUse {
            path: link.to_path_buf(),
        }),
        Err(e) => Err(claim_err(e)),
    }
}

/// `Master::read` asks for a fresh registration (a client replaced another one unseen).
const REREGISTER: std::io::ErrorKind = std::io::ErrorKind::ConnectionAborted;

/// Client state as the port sees it.
struct Session {
    /// A client has the slave open.
    attached: bool,
    /// Frames flow to the client. Open when it attaches (a client that never handshakes still
    /// hears the board); `C` closes the channel and `O` opens it again, as on an adapter.
    open: bool,
    decoder: SlcanDecoder,
}

/// Runs the port: decoded rig frames go to `frames_in`, frames from `frames_out` go to the client.
/// Returns when `frames_out` closes (the runtime is shutting down), once the client has read
/// every frame sent before (at most [`FLUSH_WAIT`]): the safe state set before a fatal exit
/// reaches the board before the process ends.
pub async fn run(
    mut port: PtyPort,
    frames_in: mpsc::UnboundedSender<Frame>,
    mut frames_out: mpsc::UnboundedReceiver<Frame>,
    stats: Arc<Mutex<PortStats>>,
) {
    let mut s = Session {
        attached: false,
        open: false,
        decoder: SlcanDecoder::new(),
    };
    let mut poll = tokio::time::interval(DETACHED_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf = [0u8; 1024];
    loop {
        let result = tokio::select! {
            out = frames_out.recv() => match out {
                None => {
                    if s.attached && s.open {
                        flush(&port, FLUSH_WAIT).await;
                    }
                    return;
                }
                Some(frame) => {
                    if s.attached && s.open {
                        write_line(&mut port, &mut s, &encode_frame(&frame.encode()), &stats);
                        stats.lock().unwrap().link.frames_out += 1;
                    }
                    continue;
                }
            },
            r = port.master.read(&mut buf) => r,
            _ = poll.tick(), if !s.attached => match port.master.fd() {
                Some(fd) => nix::unistd::read(fd, &mut buf).map_err(std::io::Error::from),
                None => continue,
            },
        };
        on_read(&mut port, &mut s, result, &buf, &frames_in, &stats);
    }
}

fn on_read(
    port: &mut PtyPort,
    s: &mut Session,
    result: std::io::Result<usize>,
    buf: &[u8],
    frames_in: &mpsc::UnboundedSender<Frame>,
    stats: &Arc<Mutex<PortStats>>,
) {
    let n = match result {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) if e.kind() == REREGISTER => {
            debug!("board link: a new client replaced the previous one");
            port.master.detach();
            if let Err(e) = port.master.attach() {
                warn!(error = %e, "board link: cannot watch the pty");
                detach(port, s);
            }
            return;
        }
        Err(e) if e.raw_os_error() == Some(Errno::EIO as i32) => {
            if s.attached {
                debug!("board link client detached");
                detach(port, s);
            } else {
                ensure_raw(port);
            }
            return;
        }
        Err(e) => {
            warn!(error = %e, "board link read failed");
            return;
        }
    };
    if !s.attached {
        if let Err(e) = port.master.attach() {
            warn!(error = %e, "board link: cannot watch the pty");
            return;
        }
        debug!("board link client attached");
        s.attached = true;
        s.open = true;
        stats.lock().unwrap().attachments += 1;
        // A new listener missed the boot: it hears STATUS, METER and IDENTITY at once.
        let _ = frames_in.send(Frame::StatusRequest);
    }
    if n == 0 {
        return;
    }
    let items: Vec<SlcanItem> = s.decoder.push(&buf[..n]).collect();
    for item in items {
        stats.lock().unwrap().link.count_item(&item);
        match item {
            SlcanItem::Frame(can) => {
                let decoded = Frame::decode(&can);
                stats.lock().unwrap().link.count_decode(&decoded);
                match decoded {
                    Err(e) => {
                        let n = stats.lock().unwrap().link.rejected();
                        if worth_logging(n) {
                            warn!(frame = %can, error = %e, rejected_total = n, "board link: frame rejected");
                        }
                    }
                    Ok(
                        f @ (Frame::Status(_)
                        | Frame::Meter { .. }
                        | Frame::Event(_)
                        | Frame::Identity { .. }),
                    ) => {
                        let n = {
                            let mut st = stats.lock().unwrap();
                            st.wrong_direction += 1;
                            st.wrong_direction
                        };
                        if worth_logging(n) {
                            warn!(frame = %can, kind = f.name(), wrong_direction_total = n, "board link: board-to-rig frame received from the rig side, ignored");
                        }
                    }
                    Ok(f) => {
                        debug!(frame = %can, kind = f.name(), "board link: received");
                        let _ = frames_in.send(f);
                    }
                }
            }
            SlcanItem::Command(cmd) => {
                let reply = match cmd {
                    SlcanCommand::Open | SlcanCommand::ListenOnly => {
                        // Re-opening the channel counts as a status request, like attaching.
                        if !s.open {
                            let _ = frames_in.send(Frame::StatusRequest);
                        }
                        s.open = true;
                        "\r"
                    }
                    SlcanCommand::Close => {
                        s.open = false;
                        "\r"
                    }
                    SlcanCommand::Bitrate(n) if n <= 8 => "\r",
                    SlcanCommand::Version => VERSION_REPLY,
                    SlcanCommand::SerialNumber => SERIAL_REPLY,
                    SlcanCommand::StatusFlags => "F00\r",
                    SlcanCommand::Timestamps(false) => "\r",
                    other => {
                        let n = {
                            let mut st = stats.lock().unwrap();
                            st.unsupported += 1;
                            st.unsupported
                        };
                        if worth_logging(n) {
                            warn!(command = ?other, unsupported_total = n, "board link: SLCAN command not supported");
                        }
                        "\x07"
                    }
                };
                write_line(port, s, reply, stats);
            }
            // An empty line: clients send a few to flush an adapter's input. Nothing to do.
            SlcanItem::Ack => {}
            SlcanItem::Nack => {
                let n = {
                    let mut st = stats.lock().unwrap();
                    st.link.garbage += 1;
                    st.stray_bel += 1;
                    st.stray_bel
                };
                if worth_logging(n) {
                    warn!(
                        stray_bel_total = n,
                        "board link: stray BEL from the rig side, ignored"
                    );
                }
            }
            SlcanItem::Garbage { line, reason } => {
                let n = stats.lock().unwrap().link.rejected();
                if worth_logging(n) {
                    warn!(%line, %reason, rejected_total = n, "board link: garbage ignored");
                }
                write_line(port, s, "\x07", stats);
            }
        }
    }
}

/// Every rejected input is counted; the log gets the first 20 and then every power of two, so
/// a babbling client cannot flood it.
fn worth_logging(count: u64) -> bool {
    count <= 20 || count.is_power_of_two()
}

/// The client went away: forget its channel state, stop watching the fd, and make the line raw
/// again for the next client (termios outlive a client; one that left ECHO or ICANON on would
/// otherwise garble the next one's session).
fn detach(port: &mut PtyPort, s: &mut Session) {
    s.attached = false;
    s.open = false;
    s.decoder = SlcanDecoder::new();
    port.master.detach();
    ensure_raw(port);
}

/// Puts the line back into raw mode if a client left it otherwise. Called while nobody is
/// attached, also for clients too quick for us to see attach at all.
fn ensure_raw(port: &PtyPort) {
    let Some(fd) = port.master.fd() else { return };
    // Termios calls on a pty master act on its slave.
    let Ok(tio) = tcgetattr(fd) else { return };
    let mut raw = tio.clone();
    cfmakeraw(&mut raw);
    if raw.local_flags != tio.local_flags
        || raw.input_flags != tio.input_flags
        || raw.output_flags != tio.output_flags
    {
        debug!("board link: a client left the line cooked, back to raw");
        if let Err(e) = tcsetattr(fd, SetArg::TCSANOW, &raw) {
            warn!(error = %e, "board link: cannot reset the line to raw");
        }
    }
}

nix::ioctl_read_bad!(unread_bytes, nix::libc::FIONREAD, nix::libc::c_int);

/// Waits until the client has read every byte written, at most `within`. Closing the master
/// hangs the slave up, which discards its unread input. Only the slave side counts unread bytes
/// (FIONREAD; a pty master's TIOCOUTQ is always 0), so the slave is opened for the moment. That
/// fails while an exclusive client holds it and we lack CAP_SYS_ADMIN: then the client gets
/// [`FLUSH_BLIND`]. Bytes written to the master reach the slave's count through a kernel work
/// item; polling the slave runs it first (n_tty's poll flushes the pending input), so a zero
/// count right after the write is not mistaken for "read".
async fn flush(port: &PtyPort, within: Duration) {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let started = tokio::time::Instant::now();
    // A master whose slave nobody holds reports a hang-up: the client left, nobody will read.
    if let Some(fd) = port.master.fd() {
        let mut master = nix::libc::pollfd {
            fd: fd.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { nix::libc::poll(&mut master, 1, 0) };
        if n > 0 && master.revents & nix::libc::POLLHUP != 0 {
            debug!("board link: the client left; nothing to flush");
            return;
        }
    }
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NOCTTY | nix::libc::O_NONBLOCK)
        .open(&port.slave);
    let slave = match slave {
        Ok(f) => f,
        Err(e) => {
            debug!(error = %e, "board link: cannot count unread bytes; giving the client a moment");
            tokio::time::sleep(FLUSH_BLIND.min(within)).await;
            return;
        }
    };
    let mut poll = tokio::time::interval(Duration::from_millis(2));
    loop {
        let mut pending = nix::libc::pollfd {
            fd: slave.as_raw_fd(),
            events: nix::libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout; the result only matters through FIONREAD.
        unsafe { nix::libc::poll(&mut pending, 1, 0) };
        let mut unread: nix::libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int through the pointer, which is valid and aligned.
        let counted = unsafe { unread_bytes(slave.as_raw_fd(), &mut unread) };
        let waited_ms = started.elapsed().as_millis() as u64;
        match counted {
            Ok(_) if unread == 0 => {
                debug!(waited_ms, "board link flushed: the client read every frame");
                return;
            }
            Err(e) => {
                debug!(error = %e, "board link: cannot count unread bytes");
                return;
            }
            Ok(_) if started.elapsed() >= within => {
                warn!(
                    unread,
                    waited_ms, "board link: the client did not read its last frames"
                );
                return;
            }
            Ok(_) => {
                poll.tick().await;
            }
        }
    }
}

/// Non-blocking write of one whole line; if the client does not read, the line is dropped.
fn write_line(port: &mut PtyPort, s: &mut Session, line: &str, stats: &Arc<Mutex<PortStats>>) {
    let Some(fd) = port.master.fd() else { return };
    let mut bytes = line.as_bytes();
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut st = stats.lock().unwrap();
                st.dropped_out += 1;
                if st.dropped_out.is_power_of_two() {
                    warn!(
                        dropped = st.dropped_out,
                        "board link: client is not reading, output dropped"
                    );
                }
                return;
            }
            Err(Errno::EIO) => {
                detach(port, s);
                return;
            }
            Err(e) => {
                warn!(error = %e, "board link write failed");
                return;
            }
        }
    }
}
