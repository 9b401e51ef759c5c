//! One-shot link commands: open the link, act, confirm where the board shows it, close.
//! Blocking on purpose: one process, one link, one short exchange.

use crate::link::record::board_json_line;
use chargerig_link::{
    BoardEvent, BoardStatus, CanLink, CardUid, EventKind, Frame, LinkError, LinkSpec, LinkStats,
    PilotState,
};
use std::time::{Duration, Instant};

/// How long a one-shot waits for the board to show what it was told.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum OneshotError {
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("the board on {link} sent no status within {waited_ms} ms: is the firmware running and is this its HIL port? ({stats})")]
    NoStatus {
        link: String,
        waited_ms: u64,
        stats: String,
    },
    #[error("the board did not confirm {what} within {waited_ms} ms; it reports {seen}")]
    NotConfirmed {
        what: String,
        waited_ms: u64,
        seen: String,
    },
}

/// What a status request returned.
#[derive(Debug, Clone, Copy)]
pub struct StatusReply {
    pub status: BoardStatus,
    /// (energy Wh, current 0.1 A), if a meter frame came with the status.
    pub meter: Option<(u32, u16)>,
    /// (major, minor, patch, boot count), if the identity frame came.
    pub identity: Option<(u8, u8, u8, u32)>,
}

fn stats_text(s: &LinkStats) -> String {
    format!(
        "frames in {}, out {}, garbage {}, unknown ids {}, bad lengths {}, bad values {}",
        s.frames_in, s.frames_out, s.garbage, s.unknown_id, s.bad_length, s.bad_value
    )
}

/// Reads frames until `done` says stop or the deadline passes; counts undecodable frames.
fn read_until(
    link: &mut dyn CanLink,
    deadline: Instant,
    stats: &mut LinkStats,
    mut done: impl FnMut(&Frame) -> bool,
) -> Result<bool, LinkError> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        if let Some(raw) = link.recv(deadline - now)? {
            let f = Frame::decode(&raw);
            stats.count_decode(&f);
            match f {
                Ok(f) => {
                    if done(&f) {
                        return Ok(true);
                    }
                }
                Err(e) => tracing::warn!(frame = %raw, error = %e, "undecodable frame from board"),
            }
        }
    }
}

/// Sends STATUS_REQ and collects STATUS, METER and IDENTITY (waits for all three briefly,
/// but only STATUS is required).
pub fn request_status(
    link: &mut dyn CanLink,
    spec: &LinkSpec,
) -> Result<StatusReply, OneshotError> {
    let start = Instant::now();
    let deadline = start + CONFIRM_TIMEOUT;
    link.send(&Frame::StatusRequest.encode())?;
    let mut stats = LinkStats::default();
    let mut status = None;
    let mut meter = None;
    let mut identity = None;
    let mut extra_deadline: Option<Instant> = None;
    loop {
        let d = extra_deadline.map_or(deadline, |e| e.min(deadline));
        let finished = read_until(link, d, &mut stats, |f| {
            match *f {
                Frame::Status(s) => status = Some(s),
                Frame::Meter {
                    energy_wh,
                    deci_amps,
                } => meter = Some((energy_wh, deci_amps)),
                Frame::Identity {
                    major,
                    minor,
                    patch,
                    boot_count,
                } => identity = Some((major, minor, patch, boot_count)),
                _ => {}
            }
            status.is_some() && meter.is_some() && identity.is_some()
        })?;
        if finished {
            break;
        }
        if status.is_some() && extra_deadline.is_none() {
            // Status is there; give the meter/identity that follow it a short moment.
            extra_deadline = Some(Instant::now() + Duration::from_millis(300));
            continue;
        }
        break;
    }
    match status {
        Some(status) => Ok(StatusReply {
            status,
            meter,
            identity,
        }),
        None => {
            let mut s = link.stats();
            s.unknown_id += stats.unknown_id;
            s.bad_length += stats.bad_length;
            s.bad_value += stats.bad_value;
            Err(OneshotError::NoStatus {
                link: spec.to_string(),
                waited_ms: start.elapsed().as_millis() as u64,
                stats: stats_text(&s),
            })
        }
    }
}

/// Human-readable status.
pub fn format_status(r: &StatusReply) -> String {
    let s = &r.status;
    let yes = |b: bool| if b { "yes" } else { "no" };
    let mut out = vec![
        format!("pilot             {}", s.pilot),
        format!(
            "pwm duty          {:.1} % ({} permille)",
            f64::from(s.pwm_duty_permille) / 10.0,
            s.pwm_duty_permille
        ),
        format!(
            "contactor         {}",
            if s.contactor_closed { "closed" } else { "open" }
        ),
        format!("connector status  {}", s.connector_status),
        format!("cable locked      {}", yes(s.cable_locked)),
        format!("online            {}", yes(s.online)),
        format!(
            "transaction       {}",
            if s.transaction_active {
                "active"
            } else {
                "none"
            }
        ),
    ];
    match r.meter {
        Some((wh, da)) => {
            out.push(format!("energy            {wh} Wh"));
            out.push(format!("current           {:.1} A", f64::from(da) / 10.0));
        }
        None => out.push("energy            (no meter frame)".into()),
    }
    out.push(format!("offline queue     {}", s.queue_len));
    out.push(format!("fault             {}", yes(s.fault)));
    if let Some((a, b, c, boots)) = r.identity {
        out.push(format!("firmware          {a}.{b}.{c}, boot {boots}"));
    }
    out.join("\n")
}

/// `rig --link LINK status [--json]`.
pub fn status(spec: &LinkSpec, json: bool) -> Result<String, OneshotError> {
    let mut link = chargerig_link::open(spec)?;
    let r = request_status(link.as_mut(), spec)?;
    Ok(if json {
        let (wh, da) = r.meter.unwrap_or((0, 0));
        let mut line = board_json_line(&r.status, wh, da);
        if let Some((a, b, c, boots)) = r.identity {
            line.pop();
            line.push_str(&format!(
                ",\"firmware\":\"{a}.{b}.{c}\",\"boot_count\":{boots}}}"
            ));
        }
        line
    } else {
        format_status(&r)
    })
}

/// Sends `frame`, then waits until `confirmed` sees the board show it.
fn act(
    spec: &LinkSpec,
    frame: Frame,
    what: &str,
    mut confirmed: impl FnMut(&Frame) -> bool,
) -> Result<BoardStatus, OneshotError> {
    let mut link = chargerig_link::open(spec)?;
    let start = Instant::now();
    link.send(&frame.encode())?;
    let mut stats = LinkStats::default();
    let mut last = None;
    let ok = read_until(link.as_mut(), start + CONFIRM_TIMEOUT, &mut stats, |f| {
        if let Frame::Status(s) = f {
            last = Some(*s);
        }
        confirmed(f)
    })?;
    match (ok, last) {
        (true, Some(s)) => Ok(s),
        (true, None) => Ok(request_status(link.as_mut(), spec)?.status),
        (false, _) => Err(OneshotError::NotConfirmed {
            what: what.to_string(),
            waited_ms: start.elapsed().as_millis() as u64,
            seen: match last {
                Some(s) => board_json_line(&s, 0, 0),
                None => "nothing (no status frame)".into(),
            },
        }),
    }
}

fn summary(s: &BoardStatus) -> String {
    format!(
        "pilot {}, {}, contactor {}, pwm {} permille",
        s.pilot,
        s.connector_status,
        if s.contactor_closed { "closed" } else { "open" },
        s.pwm_duty_permille
    )
}

/// `pilot A..F`: confirmed when the status shows the measured pilot state.
pub fn pilot(spec: &LinkSpec, p: PilotState) -> Result<String, OneshotError> {
    let s = act(
        spec,
        Frame::Pilot(p),
        &format!("pilot state {p}"),
        |f| matches!(f, Frame::Status(s) if s.pilot == p),
    )?;
    Ok(format!("pilot {p}: board reports {}", summary(&s)))
}

/// `card UID`: confirmed by the board's card-read event.
pub fn card(spec: &LinkSpec, uid: CardUid) -> Result<String, OneshotError> {
    let s = act(
        spec,
        Frame::Card(Some(uid)),
        &format!("reading card {uid} (CardRead event)"),
        |f| {
            matches!(
                f,
                Frame::Event(BoardEvent {
                    kind: EventKind::CardRead,
                    ..
                })
            )
        },
    )?;
    Ok(format!("card {uid}: read by the board; {}", summary(&s)))
}

/// `card --remove`, `load`, `button`: not visible in the status, so confirmed by the board
/// answering after the frame was sent.
fn sent_and_alive(spec: &LinkSpec, frame: Frame, what: &str) -> Result<String, OneshotError> {
    let s = act(
        spec,
        frame,
        &format!("{what} (board alive after the frame)"),
        |f| matches!(f, Frame::Status(_)),
    )?;
    Ok(format!("{what}: sent; board reports {}", summary(&s)))
}

pub fn card_remove(spec: &LinkSpec) -> Result<String, OneshotError> {
    sent_and_alive(spec, Frame::Card(None), "card removed")
}

pub fn load(spec: &LinkSpec, amps: f64) -> Result<String, OneshotError> {
    let deci = (amps * 10.0).round() as u16;
    sent_and_alive(
        spec,
        Frame::Load { deci_amps: deci },
        &format!("load {:.1} A", f64::from(deci) / 10.0),
    )
}

pub fn button(spec: &LinkSpec) -> Result<String, OneshotError> {
    sent_and_alive(spec, Frame::Button, "stop button pressed")
}

/// Round-trip figures of `rig bench`.
#[derive(Debug, Clone)]
pub struct BenchResult {
    pub iterations: usize,
    pub median: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub min: Duration,
}

/// Alternates pilot A/B and times each command until the status shows it.
pub fn bench_pilot(spec: &LinkSpec, iterations: usize) -> Result<BenchResult, OneshotError> {
    let mut link = chargerig_link::open(spec)?;
    let mut stats = LinkStats::default();
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let p = if i % 2 == 0 {
            PilotState::B
        } else {
            PilotState::A
        };
        let start = Instant::now();
        link.send(&Frame::Pilot(p).encode())?;
        let ok = read_until(
            link.as_mut(),
            start + CONFIRM_TIMEOUT,
            &mut stats,
            |f| matches!(f, Frame::Status(s) if s.pilot == p),
        )?;
        if !ok {
            return Err(OneshotError::NotConfirmed {
                what: format!("pilot state {p} (iteration {i})"),
                waited_ms: start.elapsed().as_millis() as u64,
                seen: "no matching status".into(),
            });
        }
        samples.push(start.elapsed());
    }
    // Leave the EV unplugged.
    link.send(&Frame::Pilot(PilotState::A).encode())?;
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Ok(BenchResult {
        iterations,
        median: pick(0.5),
        p99: pick(0.99),
        max: *samples.last().expect("at least one sample"),
        min: samples[0],
    })
}
