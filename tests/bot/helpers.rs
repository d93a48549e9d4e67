//! The bot suite's helpers: the world every suite shares (`tests/common`), with this
//! suite's patience and the real binary as the bot suite runs it.

use std::path::PathBuf;
use std::time::Duration;

#[path = "../common/mod.rs"]
mod common;

#[allow(unused_imports)]
pub use common::aws::*;
#[allow(unused_imports)]
pub use common::wait::*;
#[allow(unused_imports)]
pub(crate) use common::world::on_both_backends;
pub use common::world::*;

/// Upper bound for any single awaited effect; generous for a loaded 2-core CI machine.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The real `warroom` binary, run with a config file against the emulator.
pub struct BotProcess {
    child: tokio::process::Child,
}

impl BotProcess {
    pub async fn start(world: &World) -> BotProcess {
        Self::start_with(world, "", &[]).await
    }

    /// Start with `extra` appended to the config file (more TOML sections) and `env` set
    /// for the process (e.g. AWS credentials for the default chain).
    pub async fn start_with(world: &World, extra: &str, env: &[(&str, &str)]) -> BotProcess {
        let config_path: PathBuf = world.dir.path().join("warroom.toml");
        let text = format!(
            "[slack]\napi_url = \"{}\"\nresponders = [\"{BOB}\", \"{CAROL}\"]\nproactive_rate_limits = false\nsocket_connections = 1\n[database]\nurl = \"{}\"\nfailover_after = \"{}\"\n{extra}",
            world.emu.api_url(),
            world.db_url,
            humantime::format_duration(TEST_FAILOVER)
        );
        std::fs::write(&config_path, text).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .env("SLACK_APP_TOKEN", &world.emu.config().app_token)
            .env("SLACK_BOT_TOKEN", &world.emu.config().bot_token)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("warroom binary starts");
        BotProcess { child }
    }

    /// The process id.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// SIGKILL: no graceful anything.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill -9");
    }
}
