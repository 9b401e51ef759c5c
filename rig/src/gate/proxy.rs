//! `ProxyGate`: a TCP proxy between the charger and the central system.
//!
//! The charger is pointed at the proxy. *Cut* stops forwarding in both directions while
//! keeping every socket open (and accepts new connections without serving them), which is
//! what a pulled cable looks like to TCP. *Refuse* resets open connections (SO_LINGER 0) and
//! stops listening, so connects fail with ECONNREFUSED, while a bound but not listening socket
//! keeps the port reserved: were it released, the next ephemeral bind (another scenario's
//! proxy, run concurrently) could get it and the refused charger would reconnect to a stranger.
//! *Restore* listens on that same socket again and resumes forwarding.

use super::{FaultRecord, FaultTimeline, GateError, GateState, NetworkGate};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Most bytes a connection held during a cut buffers before it stops reading.
const HOLD_LIMIT: usize = 64 * 1024;

/// The gate state plus how many refusals happened, so a connection can tell it must be
/// reset even if the gate was restored before its task looked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Control {
    state: GateState,
    refusals: u64,
    /// Each chunk is held this long before it is forwarded, each way (0 = none).
    latency_ms: u64,
}

pub struct ProxyGate {
    local: SocketAddr,
    upstream: SocketAddr,
    control: Arc<watch::Sender<Control>>,
    timeline: FaultTimeline,
    accepted: Arc<AtomicU64>,
    task: JoinHandle<()>,
    /// The task of a flapping link, until the next restore (or cut, refuse).
    flapper: std::sync::Mutex<Option<JoinHandle<()>>>,
}

/// A socket for the gate's port. SO_REUSEPORT (same user only) lets the reserving socket bind
/// the port while the listener still holds it, so the port is never free in between;
/// ephemeral (port 0) binds ignore SO_REUSEPORT, so nobody else is handed the port.
fn gate_socket(addr: SocketAddr) -> std::io::Result<TcpSocket> {
    let s = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    s.set_reuseport(true)?;
    Ok(s)
}

const BACKLOG: u32 = 1024;

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let s = gate_socket(addr)?;
    s.set_reuseaddr(true)?;
    s.bind(addr)?;
    s.listen(BACKLOG)
}

/// Bound, not listening: SYNs are answered with RST (ECONNREFUSED) and the port stays ours.
/// No SO_REUSEADDR here: on a socket that is not listening, Linux would let any other
/// SO_REUSEADDR socket bind the same port.
fn reserve(addr: SocketAddr) -> std::io::Result<TcpSocket> {
    let s = gate_socket(addr)?;
    s.bind(addr)?;
    Ok(s)
}

/// How long the accept loop keeps trying to bind a lost port again before it gives up until
/// the gate changes again (the next cut, refuse or restore tries anew).
const REBIND_FOR: Duration = Duration::from_secs(5);

/// How often a lost port is tried again within [`REBIND_FOR`].
const REBIND_EVERY: Duration = Duration::from_millis(20);

/// Re-binding a lost port: bounded by [`REBIND_FOR`], and recorded in the timeline when it
/// starts failing and when it gives up, not at every attempt.
#[derive(Debug, Default)]
struct Rebind {
    failing_since: Option<std::time::Instant>,
}

impl Rebind {
    /// A failed attempt at `now`: `true` to try again after [`REBIND_EVERY`], `false` once
    /// [`REBIND_FOR`] has passed since the first failure (recorded; the next failure starts
    /// a new round).
    fn failed(
        &mut self,
        now: std::time::Instant,
        local: SocketAddr,
        e: &std::io::Error,
        timeline: &FaultTimeline,
    ) -> bool {
        let Some(since) = self.failing_since else {
            self.failing_since = Some(now);
            timeline.record(
                "error",
                format!(
                    "cannot re-bind {local}: {e}; retrying for up to {} s",
                    REBIND_FOR.as_secs()
                ),
            );
            return true;
        };
        if now.duration_since(since) < REBIND_FOR {
            return true;
        }
        self.failing_since = None;
        timeline.record(
            "error",
            format!(
                "gave up re-binding {local} after {} s: {e}; connections are refused until the gate changes again",
                REBIND_FOR.as_secs()
            ),
        );
        false
    }

    fn succeeded(&mut self) {
        self.failing_since = None;
    }
}

/// What the accept loop holds on the gate's port.
enum Port {
    Listening(TcpListener),
    Reserved(TcpSocket),
    /// Reserving or listening again failed (recorded); re-bound on restore.
    Lost,
}

impl ProxyGate {
    /// Listens on `bind_addr` (use port 0 for any) and forwards to `upstream`.
    pub async fn start(bind_addr: SocketAddr, upstream: SocketAddr) -> Result<Self, GateError> {
        let listener = bind(bind_addr).map_err(|source| GateError::Bind {
            addr: bind_addr,
            source,
        })?;
        let local = listener.local_addr().map_err(|source| GateError::Bind {
            addr: bind_addr,
            source,
        })?;
        let (control, rx) = watch::channel(Control {
            state: GateState::Open,
            refusals: 0,
            latency_ms: 0,
        });
        let control = Arc::new(control);
        let timeline = FaultTimeline::default();
        let accepted = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(accept_loop(
            listener,
            local,
            upstream,
            rx,
            timeline.clone(),
            accepted.clone(),
        ));
        tracing::debug!(%local, %upstream, "proxy gate listening");
        Ok(Self {
            local,
            upstream,
            control,
            timeline,
            accepted,
            task,
            flapper: std::sync::Mutex::new(None),
        })
    }

    fn stop_flapping(&self) {
        if let Some(task) = self
            .flapper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
            self.timeline.record("flap", "flapping stopped".to_string());
        }
    }

    /// Where the charger must connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    fn set(&self, state: GateState) {
        let before = self.control.borrow().state;
        self.control.send_modify(|c| {
            c.state = state;
            if state == GateState::Refused {
                c.refusals += 1;
            }
        });
        let kind = match state {
            GateState::Open => "restore",
            GateState::Cut => "cut",
            GateState::Refused => "refuse",
        };
        self.timeline.record(
            kind,
            format!(
                "proxy {} -> {}: {before} -> {state}",
                self.local, self.upstream
            ),
        );
    }
}

impl Drop for ProxyGate {
    fn drop(&mut self) {
        self.task.abort();
        self.stop_flapping();
    }
}

impl NetworkGate for ProxyGate {
    fn cut(&self) -> BoxFuture<'_, Result<(), GateError>> {
        self.stop_flapping();
        self.set(GateState::Cut);
        async { Ok(()) }.boxed()
    }

    fn refuse(&self) -> BoxFuture<'_, Result<(), GateError>> {
        self.stop_flapping();
        self.set(GateState::Refused);
        async move {
            // Wait (briefly) until the listener is really closed, so a connect right after
            // this returns is refused.
            for _ in 0..100 {
                if TcpStream::connect(self.local).await.is_err() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(())
        }
        .boxed()
    }

    fn restore(&self) -> BoxFuture<'_, Result<(), GateError>> {
        self.stop_flapping();
        if self.control.borrow().latency_ms > 0 {
            self.control.send_modify(|c| c.latency_ms = 0);
            self.timeline
                .record("latency", "latency removed".to_string());
        }
        let was_refused = self.control.borrow().state == GateState::Refused;
        self.set(GateState::Open);
        async move {
            if was_refused {
                // Wait until the listener is back, so the charger's next attempt is served.
                for _ in 0..200 {
                    if let Ok(s) = TcpStream::connect(self.local).await {
                        // A probe connection: close it at once; the upstream sees a short
                        // connection without data at most.
                        drop(s);
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                return Err(GateError::Bind {
                    addr: self.local,
                    source: std::io::Error::other("listener did not come back within 1 s"),
                });
            }
            Ok(())
        }
        .boxed()
    }

    fn state(&self) -> GateState {
        self.control.borrow().state
    }

    fn set_latency(&self, latency: Duration) -> Result<(), GateError> {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.control.send_modify(|c| c.latency_ms = ms);
        self.timeline.record(
            "latency",
            format!("proxy {}: every chunk held {ms} ms each way", self.local),
        );
        Ok(())
    }

    fn flap(&self, period: Duration) -> Result<(), GateError> {
        self.stop_flapping();
        let control = self.control.clone();
        let timeline = self.timeline.clone();
        timeline.record(
            "flap",
            format!(
                "proxy {}: cut and open in turn, {} ms each",
                self.local,
                period.as_millis()
            ),
        );
        let task = tokio::spawn(async move {
            let mut next = GateState::Cut;
            loop {
                control.send_modify(|c| c.state = next);
                timeline.record("flap", format!("link {next}"));
                tokio::time::sleep(period).await;
                next = if next == GateState::Cut {
                    GateState::Open
                } else {
                    GateState::Cut
                };
            }
        });
        *self.flapper.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        Ok(())
    }

    fn timeline(&self) -> Vec<FaultRecord> {
        self.timeline.snapshot()
    }
}

async fn accept_loop(
    listener: TcpListener,
    local: SocketAddr,
    upstream: SocketAddr,
    mut rx: watch::Receiver<Control>,
    timeline: FaultTimeline,
    accepted: Arc<AtomicU64>,
) {
    let mut port = Port::Listening(listener);
    let mut rebind = Rebind::default();
    loop {
        let refused = rx.borrow_and_update().state == GateState::Refused;
        if refused {
            if let Port::Listening(_) = port {
                // Reserve before the listener goes, so the port is never free.
                port = match reserve(local) {
                    Ok(s) => Port::Reserved(s),
                    Err(e) => {
                        timeline.record(
                            "error",
                            format!("cannot keep {local} reserved while refusing: {e}"),
                        );
                        Port::Lost
                    }
                };
            }
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        port = match std::mem::replace(&mut port, Port::Lost) {
            Port::Listening(l) => Port::Listening(l),
            Port::Reserved(s) => match s.listen(BACKLOG) {
                Ok(l) => Port::Listening(l),
                Err(e) => {
                    timeline.record("error", format!("cannot listen on {local} again: {e}"));
                    Port::Lost
                }
            },
            Port::Lost => match bind(local) {
                Ok(l) => {
                    rebind.succeeded();
                    Port::Listening(l)
                }
                Err(e) => {
                    let again = rebind.failed(std::time::Instant::now(), local, &e, &timeline);
                    // A change of the gate is looked at at once (a refusal needs no port).
                    tokio::select! {
                        () = tokio::time::sleep(REBIND_EVERY), if again => {}
                        r = rx.changed() => if r.is_err() { return },
                    }
                    continue;
                }
            },
        };
        let Port::Listening(l) = &port else { continue };
        tokio::select! {
            r = l.accept() => match r {
                Ok((sock, peer)) => {
                    let n = accepted.fetch_add(1, Ordering::Relaxed) + 1;
                    tokio::spawn(serve(sock, peer, n, upstream, rx.clone(), timeline.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            r = rx.changed() => if r.is_err() { return },
        }
    }
}

/// Waits until the gate is open; `false` if it was refused meanwhile (or the gate is gone).
async fn wait_open(rx: &mut watch::Receiver<Control>, refusals: u64) -> bool {
    loop {
        let c = *rx.borrow_and_update();
        if c.refusals != refusals || c.state == GateState::Refused {
            return false;
        }
        if c.state == GateState::Open {
            return true;
        }
        if rx.changed().await.is_err() {
            return false;
        }
    }
}

/// Resolves when a refusal happens after `refusals`.
async fn refused(mut rx: watch::Receiver<Control>, refusals: u64) {
    loop {
        let c = *rx.borrow_and_update();
        if c.refusals != refusals {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Closes with RST instead of FIN.
fn reset(s: TcpStream) {
    let _ = s.set_zero_linger();
    drop(s);
}

async fn serve(
    mut client: TcpStream,
    peer: SocketAddr,
    n: u64,
    upstream: SocketAddr,
    mut rx: watch::Receiver<Control>,
    timeline: FaultTimeline,
) {
    let refusals = rx.borrow().refusals;
    timeline.record("connection", format!("#{n} from {peer} accepted"));
    // During a cut the connection is accepted but not served until restore. What the client
    // sends meanwhile is read into a bounded hold buffer, so a client that gives up (closes)
    // is noticed and never served: its buffered request (a WebSocket handshake) would reach
    // the central system as a ghost connection.
    let mut held = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let c = *rx.borrow_and_update();
        if c.refusals != refusals || c.state == GateState::Refused {
            timeline.record("connection", format!("#{n} reset (refused)"));
            reset(client);
            return;
        }
        if c.state == GateState::Open {
            break;
        }
        tokio::select! {
            r = client.read(&mut buf), if held.len() < HOLD_LIMIT => match r {
                Ok(0) | Err(_) => {
                    timeline.record("connection", format!("#{n} closed by the client while held; not served"));
                    return;
                }
                Ok(k) => held.extend_from_slice(&buf[..k]),
            },
            r = rx.changed() => if r.is_err() { return },
        }
    }
    let mut server = match TcpStream::connect(upstream).await {
        Ok(s) => s,
        Err(e) => {
            timeline.record(
                "connection",
                format!("#{n}: central system {upstream} unreachable: {e}"),
            );
            reset(client);
            return;
        }
    };
    if !held.is_empty() && server.write_all(&held).await.is_err() {
        reset(client);
        return;
    }
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let outcome = {
        let (cr, cw) = client.split();
        let (sr, sw) = server.split();
        let up = pump(cr, sw, rx.clone(), refusals);
        let down = pump(sr, cw, rx.clone(), refusals);
        let stop = refused(rx.clone(), refusals);
        tokio::pin!(up, down, stop);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                r = &mut up, if !up_done => { up_done = true; if r.is_err() { break "error"; } }
                r = &mut down, if !down_done => { down_done = true; if r.is_err() { break "error"; } }
                _ = &mut stop => break "refused",
            }
            if up_done && down_done {
                break "closed";
            }
        }
    };
    match outcome {
        "refused" => {
            timeline.record("connection", format!("#{n} reset (refused)"));
            reset(client);
            reset(server);
        }
        other => {
            timeline.record("connection", format!("#{n} {other}"));
            if other == "error" {
                reset(client);
                reset(server);
            }
        }
    }
}

/// Copies one direction, holding data while the gate is cut. EOF is passed on as a
/// half-close; errors end the connection.
async fn pump<R, W>(
    mut r: R,
    mut w: W,
    mut rx: watch::Receiver<Control>,
    refusals: u64,
) -> std::io::Result<()>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !wait_open(&mut rx, refusals).await {
            return Err(std::io::Error::other("refused"));
        }
        let n = r.read(&mut buf).await?;
        if n == 0 {
            let _ = w.shutdown().await;
            return Ok(());
        }
        // A slow link: the chunk is held before it goes on (order is kept: one chunk at a time).
        let latency = rx.borrow().latency_ms;
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        // A cut that started while we were reading holds this data until restore.
        if !wait_open(&mut rx, refusals).await {
            return Err(std::io::Error::other("refused"));
        }
        w.write_all(&buf[..n]).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    /// An echo server standing in for the central system.
    async fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    async fn roundtrip(s: &mut TcpStream, msg: &[u8], within: Duration) -> Option<Vec<u8>> {
        s.write_all(msg).await.ok()?;
        let mut buf = vec![0u8; msg.len()];
        match tokio::time::timeout(within, s.read_exact(&mut buf)).await {
            Ok(Ok(_)) => Some(buf),
            _ => None,
        }
    }

    #[tokio::test]
    async fn forwards_cuts_and_restores() {
        let up = echo().await;
        let gate = ProxyGate::start("127.0.0.1:0".parse().unwrap(), up)
            .await
            .unwrap();
        let mut c = TcpStream::connect(gate.local_addr()).await.unwrap();
        assert_eq!(
            roundtrip(&mut c, b"hello", Duration::from_secs(5))
                .await
                .as_deref(),
            Some(&b"hello"[..])
        );

        gate.cut().await.unwrap();
        assert_eq!(gate.state(), GateState::Cut);
        // Nothing comes back during the cut, and the socket is not closed either.
        assert_eq!(
            roundtrip(&mut c, b"lost?", Duration::from_millis(300)).await,
            None
        );
        // New connections are accepted but not served.
        let mut c2 = TcpStream::connect(gate.local_addr())
            .await
            .expect("accepted during cut");
        assert_eq!(
            roundtrip(&mut c2, b"new", Duration::from_millis(300)).await,
            None
        );

        gate.restore().await.unwrap();
        // Held data resumes: the echo of "lost?" arrives, then normal traffic.
        let mut buf = [0u8; 5];
        tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf, b"lost?");
        assert_eq!(
            roundtrip(&mut c, b"again", Duration::from_secs(5))
                .await
                .as_deref(),
            Some(&b"again"[..])
        );
        let mut buf = [0u8; 3];
        tokio::time::timeout(Duration::from_secs(5), c2.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf, b"new");

        let kinds: Vec<String> = gate
            .timeline()
            .into_iter()
            .map(|r| r.kind)
            .filter(|k| k != "connection")
            .collect();
        assert_eq!(kinds, ["cut", "restore"]);
    }

    #[tokio::test]
    async fn a_client_that_gave_up_during_a_cut_is_not_served_later() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = l.local_addr().unwrap();
        let upstream_accepts = Arc::new(AtomicU64::new(0));
        let counter = upstream_accepts.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(s);
            }
        });
        let gate = ProxyGate::start("127.0.0.1:0".parse().unwrap(), up)
            .await
            .unwrap();
        gate.cut().await.unwrap();
        let mut c = TcpStream::connect(gate.local_addr()).await.unwrap();
        c.write_all(b"GET /ocpp/CP1 HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        drop(c);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !gate
            .timeline()
            .iter()
            .any(|r| r.detail.contains("#1 closed by the client while held"))
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{:?}",
                gate.timeline()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        gate.restore().await.unwrap();
        // A live connection after restore is served: proves the upstream counter works.
        let live = TcpStream::connect(gate.local_addr()).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while upstream_accepts.load(Ordering::SeqCst) < 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "live connection not served"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(live);
        assert_eq!(
            upstream_accepts.load(Ordering::SeqCst),
            1,
            "the ghost reached upstream"
        );
    }

    /// While refusing, the gate's port stays ours: neither an explicit bind of that port nor
    /// any ephemeral bind (another scenario's proxy or central system) may get it, else the
    /// refused charger would reconnect to someone else's central system.
    #[tokio::test]
    async fn the_port_stays_reserved_while_refusing() {
        let up = echo().await;
        let gate = ProxyGate::start("127.0.0.1:0".parse().unwrap(), up)
            .await
            .unwrap();
        let addr = gate.local_addr();
        gate.refuse().await.unwrap();
        assert_eq!(
            TcpStream::connect(addr).await.unwrap_err().kind(),
            ErrorKind::ConnectionRefused
        );
        let plain = std::net::TcpListener::bind(addr);
        assert!(
            plain.is_err(),
            "port {addr} was free to bind while refusing"
        );
        assert_eq!(plain.unwrap_err().kind(), ErrorKind::AddrInUse);
        let reuseaddr = TcpSocket::new_v4().unwrap();
        reuseaddr.set_reuseaddr(true).unwrap();
        let e = reuseaddr
            .bind(addr)
            .expect_err("port was free to a SO_REUSEADDR bind while refusing");
        assert_eq!(e.kind(), ErrorKind::AddrInUse);
        // Ephemeral binds, the way the other scenarios' gates and central systems bind.
        let others: Vec<TcpListener> = (0..300)
            .map(|_| bind("127.0.0.1:0".parse().unwrap()).unwrap())
            .collect();
        for o in &others {
            assert_ne!(o.local_addr().unwrap(), addr);
        }
        drop(others);

        // Refusing twice keeps it reserved too; restore listens on the same port again.
        gate.refuse().await.unwrap();
        assert!(std::net::TcpListener::bind(addr).is_err());
        gate.restore().await.unwrap();
        let mut c = TcpStream::connect(addr).await.expect("same port again");
        assert_eq!(
            roundtrip(&mut c, b"back", Duration::from_secs(5))
                .await
                .as_deref(),
            Some(&b"back"[..])
        );
        // And a second refuse/restore cycle works on the re-listened socket.
        gate.refuse().await.unwrap();
        assert!(std::net::TcpListener::bind(addr).is_err());
        gate.restore().await.unwrap();
        let mut c = TcpStream::connect(addr).await.expect("same port again");
        assert!(roundtrip(&mut c, b"2", Duration::from_secs(5))
            .await
            .is_some());
    }

    #[tokio::test]
    async fn refuse_resets_and_refuses_then_restore_serves_again() {
        let up = echo().await;
        let gate = ProxyGate::start("127.0.0.1:0".parse().unwrap(), up)
            .await
            .unwrap();
        let addr = gate.local_addr();
        let mut c = TcpStream::connect(addr).await.unwrap();
        assert!(roundtrip(&mut c, b"x", Duration::from_secs(5))
            .await
            .is_some());

        gate.refuse().await.unwrap();
        // The open connection is reset.
        let mut buf = [0u8; 1];
        let r = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
            .await
            .unwrap();
        assert!(
            matches!(&r, Err(e) if e.kind() == ErrorKind::ConnectionReset),
            "{r:?}"
        );
        // New connections are refused.
        let e = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);

        gate.restore().await.unwrap();
        let mut c = TcpStream::connect(addr).await.expect("same port again");
        assert_eq!(
            roundtrip(&mut c, b"back", Duration::from_secs(5))
                .await
                .as_deref(),
            Some(&b"back"[..])
        );
    }

    /// A port that cannot be bound again is retried for `REBIND_FOR`, recorded when it starts
    /// failing and when the rig gives up, not every 20 ms; the next failure starts anew.
    #[test]
    fn a_lost_port_is_retried_for_a_bounded_time_and_recorded_twice() {
        let timeline = FaultTimeline::default();
        let local: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let e = std::io::Error::from(ErrorKind::AddrInUse);
        let mut rebind = Rebind::default();
        let t0 = std::time::Instant::now();
        assert!(rebind.failed(t0, local, &e, &timeline));
        for ms in [20, 1_000, 4_999] {
            assert!(rebind.failed(t0 + Duration::from_millis(ms), local, &e, &timeline));
        }
        assert_eq!(timeline.snapshot().len(), 1, "{:?}", timeline.snapshot());
        assert!(!rebind.failed(t0 + REBIND_FOR, local, &e, &timeline));
        let records = timeline.snapshot();
        assert_eq!(records.len(), 2);
        assert!(
            records[0].detail.contains("cannot re-bind 127.0.0.1:9")
                && records[0].detail.contains("retrying for up to 5 s"),
            "{records:?}"
        );
        assert!(
            records[1]
                .detail
                .contains("gave up re-binding 127.0.0.1:9 after 5 s")
                && records[1]
                    .detail
                    .contains("refused until the gate changes again"),
            "{records:?}"
        );
        // The next change of the gate tries anew; a success ends the round.
        assert!(rebind.failed(t0 + Duration::from_secs(6), local, &e, &timeline));
        rebind.succeeded();
        assert!(rebind.failed(t0 + Duration::from_secs(60), local, &e, &timeline));
        assert_eq!(timeline.snapshot().len(), 4);
    }
}
