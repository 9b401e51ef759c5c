//! What each phrasing means, for `rig steps` (the words of `steps.md` for its phrasings).
//!
//! Kept beside the table rather than in it, so adding a step elsewhere never conflicts with
//! this list; a phrasing without an entry is listed by `rig steps` with its keyword only.

/// (expression, meaning) pairs.
pub const MEANINGS: &[(&str, &str)] = &[
    ("the network to the central system has {int} ms of latency", "a slow link (proxy gate): every chunk is held that long each way, in order; `the network is restored` ends it"),
    ("the network to the central system flaps every {int} seconds", "a flapping link (proxy gate): cut and open in turn, that long each, starting with a cut; `the network is restored` ends it"),
    ("the central system sends ClearCache", "ClearCache: the charger empties its authorization cache"),
    ("the charger uses RFID authorization", "the default"),
    ("the charger is in free charge mode", "the charger authorizes with its serial number as the id tag; plugging in starts a transaction"),
    ("the charger's serial number is {string}", "identity in BootNotification, and the free-charge id tag"),
    ("the configuration key {string} is {string}", "before boot: written into the charger's own configuration store (what the installer's configuration panel writes); on a running charger: through its local configuration interface, or ChangeConfiguration from the central system until it has one; fails if the charger refuses the value"),
    ("the central system knows these id tags:", "table `id tag`, `status` (Accepted, Blocked, Expired, Invalid, ConcurrentTx); optional `expiry` (RFC 3339, or relative to now: `+20s`, `-1h`) and `parent`; unlisted tags are Invalid"),
    ("the central system answers BootNotification with {string}", "Accepted, Pending or Rejected (interval 5 s), until changed"),
    ("the charger is online", "booted, BootNotification Accepted, connector 1 reported Available, WebSocket up"),
    ("the card {string} has charged here while online", "a whole online session with that card (plug in, present, charge, present again, unplug): the charger has received its IdTagInfo; brings the charger online first if needed"),
    ("the card {string} was rejected online", "presented while online with no EV; the central system answered with the table's status (Invalid if unlisted); brings the charger online first if needed"),
    ("the EV is plugged in", "control pilot to state B"),
    ("the EV asks for charge", "state C"),
    ("the EV pauses charging", "state C to B"),
    ("the EV is unplugged", "state A"),
    ("the EV draws {int} A", "the load the board meters"),
    ("the card {string} is presented", "the RFID reader reads that UID (hex, 4 or 7 bytes)"),
    ("the stop button is pressed", "the charger's local stop button"),
    ("the charger loses power", "hard cut with no warning (`@power`; the simulated board is killed with SIGKILL)"),
    ("power is restored", "the board boots with what it had persisted"),
    ("the charger is power-cycled", "both of the above"),
    ("{int} seconds pass", "wall-clock wait"),
    ("the network to the central system is cut", "packets silently dropped both ways (no FIN, no RST); the charger must notice by itself"),
    ("the connection to the central system is refused", "open connections reset, new ones refused"),
    ("the network is restored", "traffic flows again"),
    ("the central system stops answering", "the WebSocket stays up; requests are read but neither processed nor answered (they do not count as received)"),
    ("the central system answers again", "ends the above"),
    ("the central system answers StartTransaction with {string}", "idTagInfo status of the following StartTransaction confirmations"),
    ("the central system answers {word} with a CallError", "every following request of that action gets a CallError (InternalError)"),
    ("the central system answers {word} with a CallError {int} times", "the next N get one, then normal answers"),
    ("the central system changes {string} to {string}", "ChangeConfiguration"),
    ("the central system sends the local list version {int}:", "SendLocalList Full; table `id tag`, `status`, optional `expiry`, `parent`; an empty table sends no list"),
    ("the central system sends a differential local list version {int}:", "SendLocalList Differential; an empty `status` deletes the tag"),
    ("the central system remote-starts a transaction for {string}", "RemoteStartTransaction, connector 1"),
    ("the central system remote-stops the transaction", "RemoteStopTransaction for the transaction in progress"),
    ("the central system sends a {string} reset", "Reset Soft or Hard"),
    ("the central system triggers a {word}", "TriggerMessage (StatusNotification, Heartbeat, BootNotification, MeterValues)"),
    ("the central system sets connector {int} {word}", "ChangeAvailability `Operative` or `Inoperative` (connector 0 is the whole charger)"),
    ("the central system unlocks connector {int}", "UnlockConnector"),
    ("charging starts within {int} seconds", "contactor closed (board status)"),
    ("charging does not start within {int} seconds", "contactor stays open throughout"),
    ("charging stops within {int} seconds", "contactor opens"),
    ("charging continues for {int} seconds", "contactor stays closed throughout"),
    ("the contactor opens within {int} ms", "from the board's own timestamps of the pilot change and the contactor event (`@timing`)"),
    ("the connector status is {string}", "ChargePointStatus as the board reports it"),
    ("the connector stays locked", "cable lock engaged (board status)"),
    ("the charger reports being offline within {int} seconds", "the charger's own view (board status)"),
    ("the charger is back online within {int} seconds", "reconnected, and a message arrived on the new connection"),
    ("the charger answers {string}", "status of its response to the last central-system request (for GetLocalListVersion: the version)"),
    ("the configuration key {string} reads {string}", "via GetConfiguration"),
    ("the local list version is {int}", "via GetLocalListVersion"),
    ("the central system receives a StopTransaction with reason {string} within {int} seconds", "`Local` also matches an absent reason, as OCPP allows"),
    ("the central system receives a StatusNotification {string} within {int} seconds", "connector 1"),
    ("the central system receives no {word} for {int} seconds", "e.g. no Authorize, no StartTransaction, no BootNotification"),
    ("the central system has received exactly {int} {word}", "counted since the scenario began"),
    ("the last StopTransaction carries transaction id {int}", "e.g. -1 after a dropped StartTransaction"),
    ("the StartTransaction carries the time charging started, not the time it was sent", "for a transaction queued offline"),
    ("the MeterValues of the transaction are in chronological order, {int} seconds apart", "periodic samples, after a flush too"),
    ("the central system receives these transaction messages in order:", "table `message` (StartTransaction, MeterValues, StopTransaction), optional `id tag`, `reason`; other messages may interleave"),
    ("the transaction delivered between {int} and {int} Wh", "from its StartTransaction meterStart and StopTransaction meterStop, or the board meter while open"),
    ("every transaction is reported exactly once", "the ledger check (below)"),
    ("the central system receives a {word} within {int} seconds", "any action, e.g. Heartbeat, BootNotification, MeterValues"),
    ("the central system receives these StatusNotifications for connector {int} in order:", "table `status`; the listed statuses arrive in this order, others may come between them"),
    ("the connector is unlocked within {int} seconds", "cable lock released (board status)"),
    ("the central system requires security profile {int}", "1: HTTP Basic auth; 2: TLS and Basic auth; 3: TLS with a client certificate. The rig gives the charger what that needs before boot (the test CA it must trust, its client certificate, `SecurityProfile`); the password the central system expects is the charger's `AuthorizationKey`, set with the configuration-key step"),
    ("the central system expects the AuthorizationKey {string}", "from now on the central system accepts only this key (hex)"),
    ("the central system refuses the charger's password within {int} seconds", "an upgrade with wrong credentials was answered 401"),
    ("the charger never reveals the AuthorizationKey", "GetConfiguration, with and without a key list, never returns its value; nor does any frame or (on the simulated board) the charger's log"),
    ("the installer sets {string} to {string} on the configuration panel", "logs in, changes that key, saves; fails if the panel shows an error"),
    ("the installer tries to set {string} to {string} on the configuration panel", "the same, but an error shown by the panel is not a failure"),
    ("the configuration panel shows an error for {string}", "after the step above: the panel refused the value, next to that key"),
    ("the configuration panel shows {string} as {string}", "a key's value as the panel shows it (`AuthorizationKey`: `set` or `not set`)"),
    ("the installer sets the authorization mode to {word} on the configuration panel", "`rfid` or `free` (free charge)"),
    ("the configuration panel shows the charger {word}", "`online` or `offline`"),
    ("the configuration panel refuses the password {string}", "a login with that password fails and shows no configuration"),
];

/// The meaning of a phrasing, when one is written down.
pub fn of(expression: &str) -> Option<&'static str> {
    MEANINGS
        .iter()
        .find(|(e, _)| *e == expression)
        .map(|(_, m)| *m)
        .filter(|m| !m.is_empty())
}

/// The vocabulary as `rig steps` prints it: one phrasing per line, its meaning indented below.
pub fn vocabulary(defs: &[super::StepDef]) -> String {
    let mut out = String::new();
    for def in defs {
        out.push_str(&format!("{} {}\n", def.keyword, def.expression));
        if let Some(m) = of(def.expression) {
            out.push_str(&format!("    {m}\n"));
        }
    }
    out
}
