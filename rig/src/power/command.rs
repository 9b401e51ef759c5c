//! Power through shell commands (a USB relay CLI, a PDU, a lab supply), from the profile.

use super::{PowerError, PowerSwitch};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::time::Duration;

pub struct CommandPower {
    on: String,
    off: String,
    /// Waited after switching on (relay bounce, supply ramp) before the board is expected
    /// to boot, as the profile's `settle_ms` says.
    settle: Duration,
}

impl CommandPower {
    pub fn new(on: impl Into<String>, off: impl Into<String>, settle: Duration) -> Self {
        Self {
            on: on.into(),
            off: off.into(),
            settle,
        }
    }

    async fn run(&self, command: &str) -> Result<(), PowerError> {
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .output()
            .await
            .map_err(|source| PowerError::Spawn {
                command: command.to_string(),
                source,
            })?;
        if !out.status.success() {
            return Err(PowerError::Command {
                command: command.to_string(),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(())
    }
}

impl PowerSwitch for CommandPower {
    fn off(&self) -> BoxFuture<'_, Result<(), PowerError>> {
        self.run(&self.off).boxed()
    }

    fn on(&self) -> BoxFuture<'_, Result<(), PowerError>> {
        async move {
            self.run(&self.on).await?;
            tokio::time::sleep(self.settle).await;
            Ok(())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_the_commands_and_reports_failure() {
        let dir = std::env::temp_dir().join(format!("cmdpower-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let state = dir.join("relay");
        let p = CommandPower::new(
            format!("echo on > {}", state.display()),
            format!("echo off > {}", state.display()),
            Duration::ZERO,
        );
        p.off().await.unwrap();
        assert_eq!(std::fs::read_to_string(&state).unwrap().trim(), "off");
        p.on().await.unwrap();
        assert_eq!(std::fs::read_to_string(&state).unwrap().trim(), "on");
        let bad = CommandPower::new("true", "echo relay offline >&2; exit 1", Duration::ZERO);
        let e = bad.off().await.unwrap_err();
        assert!(e.to_string().contains("relay offline"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
