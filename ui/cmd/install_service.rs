//! `sentri install-service`: a systemd unit for `sentri start` — `Type=notify` with a watchdog
//! (the daemon speaks the protocol, `systemd.rs`), restarted on failure, run as its own user
//! with the file system read-only but for SENTRI_HOME — and an example environment file naming
//! every secret the configuration reads (all commented; never overwritten). Then it prints the
//! commands that enable it. It writes files only; it runs no `systemctl` itself.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use sentri::config::Config;

use super::Context;

/// Where a service's home is when none is given.
pub const DEFAULT_SERVICE_HOME: &str = "/var/lib/sentri";
/// Where the unit goes when no --output is given.
pub const DEFAULT_UNIT_PATH: &str = "/etc/systemd/system/sentri.service";
/// Where the environment file goes when the unit goes to its default place.
pub const DEFAULT_ENV_PATH: &str = "/etc/sentri/sentri.env";
/// `WatchdogSec=`: the engine beats every second; systemd restarts it after this long without.
pub const WATCHDOG_SECONDS: u64 = 60;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The account the service runs as (create it first: `useradd --system --home-dir DIR sentri`).
    #[arg(long, default_value = "sentri", value_name = "NAME")]
    user: String,
    /// The unit file to write [default: /etc/systemd/system/sentri.service]. `-` prints it.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The environment file the unit reads secrets from [default: /etc/sentri/sentri.env, or
    /// sentri.env beside --output]. Written (mode 0600, every line commented) only if absent.
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
    /// The binary ExecStart runs [default: this binary].
    #[arg(long, value_name = "PATH")]
    exec: Option<PathBuf>,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    // --home (global) or SENTRI_HOME names the service's home; else the packaged default.
    let home = context.home_override().map_or_else(|| PathBuf::from(DEFAULT_SERVICE_HOME), Path::to_path_buf);
    let home = absolute(&home)?;
    let exec = match args.exec {
        Some(exec) => absolute(&exec)?,
        None => std::env::current_exe().context("finding this binary for ExecStart")?,
    };
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    let unit_path = args.output.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_UNIT_PATH));
    let env_path = match (&args.env_file, &args.output) {
        (Some(path), _) => absolute(path)?,
        (None, Some(output)) if !to_stdout => absolute(&output.with_file_name("sentri.env"))?,
        (None, _) => PathBuf::from(DEFAULT_ENV_PATH),
    };
    // The configuration of that home, when it has one, names the databases whose passwords the
    // environment file should carry.
    let config =
        sentri::config::Config::load(&home.join("config/sentri.yaml")).map(|loaded| loaded.config).unwrap_or_default();
    let unit = unit_text(&UnitSpec { exec: &exec, home: &home, user: &args.user, env_file: &env_path });
    if to_stdout {
        print!("{unit}");
        return Ok(ExitCode::SUCCESS);
    }
    write_file(&unit_path, &unit, 0o644)?;
    println!("wrote {}", unit_path.display());
    if env_path.exists() {
        println!("kept {} (it exists; secrets are never overwritten)", env_path.display());
    } else {
        write_file(&env_path, &env_text(&config), 0o600)?;
        println!("wrote {} (mode 0600; every variable commented: set the ones you use)", env_path.display());
    }
    println!();
    println!("Next:");
    println!(
        "  sudo useradd --system --home-dir {} --shell /usr/sbin/nologin {}   # if the account does not exist",
        home.display(),
        args.user
    );
    println!(
        "  sudo -u {} SENTRI_HOME={} {} init                # if the home does not exist",
        args.user,
        home.display(),
        exec.display()
    );
    println!("  sudoedit {}                                        # the secrets", env_path.display());
    if unit_path.parent() != Some(Path::new("/etc/systemd/system")) {
        println!("  sudo cp {} /etc/systemd/system/sentri.service", unit_path.display());
    }
    println!("  sudo systemctl daemon-reload");
    println!("  sudo systemctl enable --now sentri");
    println!("  systemctl status sentri; journalctl -u sentri -f");
    Ok(ExitCode::SUCCESS)
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("making {} absolute", path.display()))
}

fn write_file(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// What the unit is written for.
pub struct UnitSpec<'a> {
    pub exec: &'a Path,
    pub home: &'a Path,
    pub user: &'a str,
    pub env_file: &'a Path,
}

/// A path as a unit file's value: systemd splits on spaces and expands `%` and `$`.
fn unit_path(path: &Path) -> String {
    let text = path.display().to_string().replace('%', "%%").replace('$', "$$");
    if text.contains(' ') { format!("\"{text}\"") } else { text }
}

/// The unit file.
pub fn unit_text(spec: &UnitSpec<'_>) -> String {
    let home = unit_path(spec.home);
    // A home under /home or /root needs ProtectHome= read-only (ReadWritePaths= then opens it);
    // elsewhere the homes are hidden altogether.
    let under_homes =
        spec.home.starts_with("/home") || spec.home.starts_with("/root") || spec.home.starts_with("/run/user");
    let protect_home = if under_homes { "read-only" } else { "yes" };
    format!(
        "# Written by `sentri install-service` (Sentri {version}).\n\
         # Secrets go in the EnvironmentFile below, never in this file or in sentri.yaml.\n\
         [Unit]\n\
         Description=Sentri: database alert triage, verification and fixes\n\
         Documentation=man:sentri(1) man:sentri-start(1)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=notify\n\
         NotifyAccess=main\n\
         ExecStart={exec} start\n\
         Environment=SENTRI_HOME={home}\n\
         EnvironmentFile=-{env_file}\n\
         User={user}\n\
         Group={user}\n\
         # The engine beats every second and pings at half this; a wedged loop is restarted.\n\
         WatchdogSec={watchdog}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         TimeoutStartSec=120\n\
         # SIGTERM lets the current step finish (the engine waits up to 60 s).\n\
         TimeoutStopSec=90\n\
         UMask=0077\n\
         ReadWritePaths={home}\n\
         ProtectSystem=strict\n\
         ProtectHome={protect_home}\n\
         NoNewPrivileges=yes\n\
         PrivateTmp=yes\n\
         PrivateDevices=yes\n\
         ProtectKernelTunables=yes\n\
         ProtectKernelModules=yes\n\
         ProtectKernelLogs=yes\n\
         ProtectControlGroups=yes\n\
         ProtectClock=yes\n\
         ProtectHostname=yes\n\
         RestrictNamespaces=yes\n\
         RestrictRealtime=yes\n\
         RestrictSUIDSGID=yes\n\
         LockPersonality=yes\n\
         # AF_UNIX: the notify socket; AF_INET/AF_INET6: IMAP, SMTP, the databases, the metrics.\n\
         RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        version = env!("CARGO_PKG_VERSION"),
        exec = unit_path(spec.exec),
        env_file = unit_path(spec.env_file),
        user = spec.user,
        watchdog = WATCHDOG_SECONDS,
    )
}

/// The example environment file: every secret variable, commented.
pub fn env_text(config: &Config) -> String {
    let mut text = String::from(
        "# Secrets for the Sentri service (read by systemd: EnvironmentFile=). Keep it mode 0600.\n\
         # Uncomment and set the ones your sentri.yaml uses; `sentri db test` tells you which\n\
         # database passwords are missing. One VARIABLE=value per line, no quotes needed.\n",
    );
    for (variable, purpose) in config.secret_variables() {
        text.push_str(&format!("\n# {purpose}\n#{variable}=\n"));
    }
    if config.databases.is_empty() {
        text.push_str("\n# one per database in sentri.yaml: SENTRI_DB_<NAME>_PASSWORD (NAME upper case, - as _)\n#SENTRI_DB_PROD_DB_01_PASSWORD=\n");
    }
    text
}
