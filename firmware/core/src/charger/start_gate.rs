//! "May a session start now?": the one place that decides it.
//!
//! The question is asked at three steps, and a few obstacles deliberately count only at some
//! of them; [`NotNow::counts_at`] is that table, each exception with its reason.

use super::link::Registration;
use super::Charger;

/// When the question is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StartStep {
    /// A tag presented to start (card, free charge, or a remote start that must be authorized
    /// first), before it is authorized locally or at the central system.
    AcceptTag,
    /// RemoteStartTransaction, before it is answered Accepted.
    RemoteStart,
    /// A tag is authorized: begin the transaction once the EV is plugged in.
    Begin,
}

/// Why a session may not start now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NotNow {
    /// A Reset was accepted: nothing new starts.
    Resetting,
    TransactionRunning,
    /// A DeAuthorized stop keeps the cable locked for its tag.
    CableHeld,
    /// ChangeAvailability(Inoperative).
    Unavailable,
    /// §4.9 Finishing: no new user until the EV is unplugged.
    Finishing,
    /// Pilot state E or F.
    Faulted,
    /// An Authorize to start is in flight.
    AuthorizationPending,
    /// A tag is authorized and waits for its EV (ConnectionTimeOut).
    AlreadyAuthorized,
    /// The central system has not accepted our BootNotification.
    NotRegistered,
    /// No EV plugged in.
    NotPlugged,
}

impl NotNow {
    /// Whether this obstacle counts at `step`. The exceptions are deliberate:
    /// - `Finishing` and `AuthorizationPending` do not count at `Begin`: `Begin` carries out an
    ///   authorization already granted after these were checked (at `AcceptTag`/`RemoteStart`).
    /// - `Faulted` does not count at `AcceptTag`: a tag presented during a pilot fault is still
    ///   authorized; `Begin` waits until the fault clears (within ConnectionTimeOut).
    /// - `AlreadyAuthorized` counts only at `AcceptTag`: a local tag never replaces another
    ///   one waiting for its EV, a RemoteStart does (the central system decides), and `Begin`
    ///   needs one.
    /// - `NotRegistered` counts only at `RemoteStart`: a central system that has not accepted
    ///   us cannot start a session; a local tag gets the offline decision instead.
    /// - `NotPlugged` counts only at `Begin`: tag and EV may come in either order.
    pub fn counts_at(self, step: StartStep) -> bool {
        match self {
            NotNow::Resetting
            | NotNow::TransactionRunning
            | NotNow::CableHeld
            | NotNow::Unavailable => true,
            NotNow::Finishing | NotNow::AuthorizationPending => step != StartStep::Begin,
            NotNow::Faulted => step != StartStep::AcceptTag,
            NotNow::AlreadyAuthorized => step == StartStep::AcceptTag,
            NotNow::NotRegistered => step == StartStep::RemoteStart,
            NotNow::NotPlugged => step == StartStep::Begin,
        }
    }

    /// The first obstacle that is present and counts at `step`.
    pub fn first<const N: usize>(
        step: StartStep,
        blocked: [(NotNow, bool); N],
    ) -> Result<(), NotNow> {
        match blocked
            .into_iter()
            .find(|&(why, present)| present && why.counts_at(step))
        {
            Some((why, _)) => Err(why),
            None => Ok(()),
        }
    }
}

impl Charger {
    /// May a session start now, at `step`? The charger-wide obstacles (reset, session, link),
    /// then the connector's own ([`super::connector::Connector::can_start`]).
    pub(super) fn may_start(&self, step: StartStep) -> Result<(), NotNow> {
        let blocked = [
            (NotNow::Resetting, self.reset_pending.is_some()),
            (NotNow::TransactionRunning, self.session.tx.is_some()),
            (NotNow::AuthorizationPending, self.session.auth_pending),
            (NotNow::AlreadyAuthorized, self.session.authorized.is_some()),
            (
                NotNow::NotRegistered,
                self.link.registration != Registration::Accepted,
            ),
        ];
        NotNow::first(step, blocked)?;
        self.connector.can_start(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_needs_a_plugged_ev_and_a_tag_does_not() {
        assert!(NotNow::NotPlugged.counts_at(StartStep::Begin));
        assert!(!NotNow::NotPlugged.counts_at(StartStep::AcceptTag));
        assert!(!NotNow::NotPlugged.counts_at(StartStep::RemoteStart));
    }

    #[test]
    fn the_first_present_obstacle_that_counts_is_reported() {
        let blocked = [(NotNow::Faulted, true), (NotNow::Unavailable, true)];
        assert_eq!(
            NotNow::first(StartStep::AcceptTag, blocked),
            Err(NotNow::Unavailable)
        );
        assert_eq!(
            NotNow::first(StartStep::Begin, blocked),
            Err(NotNow::Faulted)
        );
        assert_eq!(
            NotNow::first(StartStep::Begin, [(NotNow::Faulted, false)]),
            Ok(())
        );
    }
}
