//! `SlcanLink` against a pseudo-terminal whose master plays a minimal board.

use chargerig_link::slcan::{encode_frame, SlcanCommand, SlcanDecoder, SlcanItem};
use chargerig_link::{BoardStatus, CanLink, Frame, LinkError, PilotState, SlcanLink};
use serialport::{SerialPort, TTYPort};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

struct FakeBoard {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<TTYPort>>,
    /// Held open so the pty stays usable between clients, as the simulated board's does.
    slave: Option<TTYPort>,
}

impl FakeBoard {
    /// `answer`: whether it acknowledges commands (false = a device that is not SLCAN);
    /// `version`: whether it answers `V` with a version (some adapters only ack it).
    fn start(answer: bool) -> Self {
        Self::start_with(answer, true)
    }

    fn start_with(answer: bool, version: bool) -> Self {
        Self::start_full(answer, version, 0)
    }

    /// `late_bels`: BELs written before the first reply, as answers to a previous client.
    fn start_full(answer: bool, version: bool, late_bels: usize) -> Self {
        let (mut master, slave) = TTYPort::pair().expect("pty pair");
        let path = PathBuf::from(slave.name().expect("slave has a name"));
        master.set_timeout(Duration::from_millis(20)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = thread::spawn(move || {
            let mut dec = SlcanDecoder::new();
            let mut status = BoardStatus::default();
            let mut late = late_bels;
            let mut buf = [0u8; 256];
            while !stop2.load(Ordering::Relaxed) {
                let n = match master.read(&mut buf) {
                    Ok(n) => n,
                    Err(_) => continue,
                };
                let items: Vec<_> = dec.push(&buf[..n]).collect();
                for item in items {
                    if !answer {
                        continue;
                    }
                    let reply = match item {
                        SlcanItem::Command(SlcanCommand::Version) if version => {
                            "V0101\r".to_string()
                        }
                        SlcanItem::Command(_) => "\r".to_string(),
                        SlcanItem::Frame(f) => match Frame::decode(&f) {
                            Ok(Frame::Pilot(p)) => {
                                status.pilot = p;
                                status.sequence = status.sequence.wrapping_add(1);
                                encode_frame(&Frame::Status(status).encode())
                            }
                            Ok(Frame::StatusRequest) => {
                                // garbage first: the client must skip and count it
                                format!(
                                    "t7\rzzz\r{}",
                                    encode_frame(&Frame::Status(status).encode())
                                )
                            }
                            _ => String::new(),
                        },
                        _ => "\x07".to_string(),
                    };
                    if std::mem::take(&mut late) > 0 {
                        master
                            .write_all("\x07".repeat(late_bels).as_bytes())
                            .unwrap();
                    }
                    master.write_all(reply.as_bytes()).unwrap();
                }
            }
            master
        });
        Self {
            path,
            stop,
            handle: Some(handle),
            slave: Some(slave),
        }
    }

    /// Stops the board and closes the pty master (the board "loses power").
    fn power_off(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            drop(h.join().unwrap());
        }
    }
}

impl Drop for FakeBoard {
    fn drop(&mut self) {
        self.power_off();
    }
}

fn recv_status(link: &mut SlcanLink) -> BoardStatus {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Some(f) = link.recv(Duration::from_millis(200)).unwrap() {
            if let Ok(Frame::Status(s)) = Frame::decode(&f) {
                return s;
            }
        }
    }
    panic!("no status within 5 s");
}

#[test]
fn handshake_then_frames_both_ways_and_garbage_is_counted() {
    let board = FakeBoard::start(true);
    let mut link = SlcanLink::open(&board.path, 115_200).expect("handshake");
    link.send(&Frame::StatusRequest.encode()).unwrap();
    let s = recv_status(&mut link);
    assert_eq!(s.pilot, PilotState::A);
    assert_eq!(link.stats().garbage, 2, "{:?}", link.stats());
    link.send(&Frame::Pilot(PilotState::C).encode()).unwrap();
    let s = recv_status(&mut link);
    assert_eq!(s.pilot, PilotState::C);
    assert_eq!(link.stats().frames_out, 2);
}

#[test]
fn an_adapter_without_version_reply_still_opens() {
    let board = FakeBoard::start_with(true, false);
    let mut link = SlcanLink::open(&board.path, 115_200).expect("handshake");
    link.send(&Frame::StatusRequest.encode()).unwrap();
    recv_status(&mut link);
}

/// Answers to a previous client that arrive after the next client opened (the board was
/// still working through that client's lines) must not pass for answers to the handshake.
#[test]
fn late_answers_to_a_previous_client_are_ignored() {
    let board = FakeBoard::start_full(true, true, 3);
    let mut link = SlcanLink::open(&board.path, 115_200).expect("handshake despite late BELs");
    link.send(&Frame::StatusRequest.encode()).unwrap();
    recv_status(&mut link);
}

#[test]
fn clients_come_and_go() {
    let board = FakeBoard::start(true);
    for _ in 0..3 {
        let mut link = SlcanLink::open(&board.path, 115_200).expect("handshake");
        link.send(&Frame::StatusRequest.encode()).unwrap();
        recv_status(&mut link);
    }
}

#[test]
fn a_silent_device_is_not_an_slcan_device() {
    let board = FakeBoard::start(false);
    let err = SlcanLink::open(&board.path, 115_200)
        .err()
        .expect("must fail");
    assert!(matches!(err, LinkError::NoHandshake { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("is it an SLCAN device? wrong baud rate?"),
        "{err}"
    );
}

#[test]
fn a_missing_device_names_the_fix() {
    let err = SlcanLink::open(std::path::Path::new("/dev/ttyACM_nonexistent"), 115_200)
        .err()
        .expect("must fail");
    assert_eq!(
        err.to_string(),
        "no such device /dev/ttyACM_nonexistent: is the adapter plugged in? (for a simulated board: is it running?)"
    );
    assert!(err.is_disconnect());
}

#[test]
fn a_board_that_goes_away_is_a_disconnect() {
    let mut board = FakeBoard::start(true);
    let mut link = SlcanLink::open(&board.path, 115_200).expect("handshake");
    board.power_off();
    drop(board.slave.take());
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        match link.recv(Duration::from_millis(100)) {
            Err(e) => break e,
            Ok(_) if Instant::now() > deadline => panic!("no disconnect seen"),
            Ok(_) => {}
        }
    };
    assert!(err.is_disconnect(), "{err}");
}
