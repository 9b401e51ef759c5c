//! `NftablesGate`: network faults as kernel rules on a rig host that routes the board's
//! traffic (bench). The rules live in the rig's own table so other rules are never touched.

use super::NftablesConfig;
use super::{FaultRecord, FaultTimeline, GateError, GateState, NetworkGate};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::sync::Mutex;

/// The shell commands of the three faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftCommands {
    pub cut: Vec<String>,
    pub refuse: Vec<String>,
    pub restore: Vec<String>,
}

/// Rules matching the board's traffic to and from the central system port (every TCP port of
/// the board when `csms_port` is `None`: a bench whose central system takes an ephemeral port,
/// like the netns bench), in `table`. `refuse` also resets the open connections at once (`ss
/// -K` on the rig host's own sockets, before the rules would swallow the reset), as the proxy
/// does: a refusal is noticed at once, not at the charger's next ping.
pub fn rules(table: &str, board_ip: &str, csms_port: Option<u16>) -> NftCommands {
    let family = if board_ip.contains(':') { "ip6" } else { "ip" };
    let (dport, sport, ss_port) = match csms_port {
        Some(p) => (
            format!("tcp dport {p}"),
            format!("tcp sport {p}"),
            format!(" sport = :{p}"),
        ),
        None => (
            "meta l4proto tcp".into(),
            "meta l4proto tcp".into(),
            String::new(),
        ),
    };
    let head = || {
        vec![
            format!("nft add table inet {table}"),
            format!(
                "nft add chain inet {table} input '{{ type filter hook input priority -10 ; }}'"
            ),
            format!(
                "nft add chain inet {table} output '{{ type filter hook output priority -10 ; }}'"
            ),
            format!("nft flush table inet {table}"),
        ]
    };
    let verdict_rules = |verdict: &str| {
        vec![
            format!("nft add rule inet {table} input {family} saddr {board_ip} {dport} {verdict}"),
            format!("nft add rule inet {table} output {family} daddr {board_ip} {sport} {verdict}"),
        ]
    };
    let mut cut = head();
    cut.extend(verdict_rules("drop"));
    let mut refuse = head();
    refuse.push(format!(
        "ss -K dst {board_ip}{ss_port} >/dev/null 2>&1 || true"
    ));
    refuse.extend(verdict_rules("reject with tcp reset"));
    NftCommands {
        cut,
        refuse,
        restore: vec![
            format!("nft add table inet {table}"),
            format!("nft flush table inet {table}"),
        ],
    }
}

pub struct NftablesGate {
    commands: NftCommands,
    state: Mutex<GateState>,
    timeline: FaultTimeline,
}

impl NftablesGate {
    /// Explicit commands from the profile win; otherwise rules are generated.
    pub fn from_config(cfg: &NftablesConfig) -> Self {
        let generated = match (&cfg.board_ip, cfg.csms_port) {
            (Some(ip), port) => rules(&cfg.table, ip, port),
            _ => NftCommands {
                cut: vec![],
                refuse: vec![],
                restore: vec![],
            },
        };
        Self::new(NftCommands {
            cut: cfg.cut.clone().unwrap_or(generated.cut),
            refuse: cfg.refuse.clone().unwrap_or(generated.refuse),
            restore: cfg.restore.clone().unwrap_or(generated.restore),
        })
    }

    pub fn new(commands: NftCommands) -> Self {
        Self {
            commands,
            state: Mutex::new(GateState::Open),
            timeline: FaultTimeline::default(),
        }
    }

    pub fn commands(&self) -> &NftCommands {
        &self.commands
    }

    async fn apply(&self, target: GateState, cmds: &[String]) -> Result<(), GateError> {
        for c in cmds {
            let out = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(c)
                .output()
                .await
                .map_err(|source| GateError::Spawn {
                    command: c.clone(),
                    source,
                })?;
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
                self.timeline
                    .record("error", format!("`{c}` failed: {stderr}"));
                return Err(GateError::Command {
                    command: c.clone(),
                    status: out.status.to_string(),
                    stderr: if stderr.contains("Operation not permitted") {
                        // File capabilities on the rig are not inherited by `sh` and `nft`.
                        format!("{stderr} (nft needs CAP_NET_ADMIN: run the rig as root, give nft itself the capability on a dedicated rig host with `sudo setcap cap_net_admin+ep $(command -v nft)`, or set the profile's cut/refuse/restore commands to `sudo -n nft ...` with a sudoers rule for nft)")
                    } else {
                        stderr
                    },
                });
            }
        }
        let kind = match target {
            GateState::Open => "restore",
            GateState::Cut => "cut",
            GateState::Refused => "refuse",
        };
        self.timeline
            .record(kind, format!("nftables: {}", cmds.join("; ")));
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = target;
        Ok(())
    }
}

impl NetworkGate for NftablesGate {
    fn cut(&self) -> BoxFuture<'_, Result<(), GateError>> {
        self.apply(GateState::Cut, &self.commands.cut).boxed()
    }

    fn refuse(&self) -> BoxFuture<'_, Result<(), GateError>> {
        self.apply(GateState::Refused, &self.commands.refuse)
            .boxed()
    }

    fn restore(&self) -> BoxFuture<'_, Result<(), GateError>> {
        self.apply(GateState::Open, &self.commands.restore).boxed()
    }

    fn state(&self) -> GateState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn timeline(&self) -> Vec<FaultRecord> {
        self.timeline.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_rules_match_the_bench_doc() {
        let c = rules("chargerig", "192.168.50.20", Some(9000));
        assert_eq!(
            c.cut,
            [
                "nft add table inet chargerig",
                "nft add chain inet chargerig input '{ type filter hook input priority -10 ; }'",
                "nft add chain inet chargerig output '{ type filter hook output priority -10 ; }'",
                "nft flush table inet chargerig",
                "nft add rule inet chargerig input ip saddr 192.168.50.20 tcp dport 9000 drop",
                "nft add rule inet chargerig output ip daddr 192.168.50.20 tcp sport 9000 drop",
            ]
        );
        assert_eq!(
            c.refuse[4],
            "ss -K dst 192.168.50.20 sport = :9000 >/dev/null 2>&1 || true"
        );
        assert!(c.refuse[5].ends_with("tcp dport 9000 reject with tcp reset"));
        let any_port = rules("t", "10.250.0.2", None);
        assert_eq!(
            any_port.cut[4],
            "nft add rule inet t input ip saddr 10.250.0.2 meta l4proto tcp drop"
        );
        assert_eq!(c.restore.last().unwrap(), "nft flush table inet chargerig");
        assert!(rules("t", "fd00::20", Some(9000)).cut[4].contains("ip6 saddr fd00::20"));
    }

    #[test]
    fn explicit_commands_win() {
        let cfg = NftablesConfig {
            board_ip: Some("10.0.0.2".into()),
            csms_port: Some(9000),
            table: "t".into(),
            cut: Some(vec!["my-cut".into()]),
            refuse: None,
            restore: None,
        };
        let g = NftablesGate::from_config(&cfg);
        assert_eq!(g.commands().cut, ["my-cut"]);
        assert!(g.commands().refuse[4].contains("10.0.0.2"));
    }

    #[tokio::test]
    async fn runs_commands_and_reports_failures() {
        let g = NftablesGate::new(NftCommands {
            cut: vec!["true".into()],
            refuse: vec!["echo nope >&2; exit 4".into(), "true".into()],
            restore: vec!["true".into()],
        });
        g.cut().await.unwrap();
        assert_eq!(g.state(), GateState::Cut);
        let e = g.refuse().await.unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        assert_eq!(
            g.state(),
            GateState::Cut,
            "a failed command changes nothing"
        );
        g.restore().await.unwrap();
        assert_eq!(g.state(), GateState::Open);
        let kinds: Vec<String> = g.timeline().into_iter().map(|r| r.kind).collect();
        assert_eq!(kinds, ["cut", "error", "restore"]);
        let denied = NftablesGate::new(NftCommands {
            cut: vec![
                "echo 'Error: Could not process rule: Operation not permitted' >&2; exit 1".into(),
            ],
            refuse: vec![],
            restore: vec![],
        });
        let e = denied.cut().await.unwrap_err().to_string();
        assert!(e.contains("sudo -n nft") && e.contains("setcap"), "{e}");
    }
}
