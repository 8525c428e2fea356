//! `sentri generate-docs DIR` (hidden): what the Debian package ships that the binary itself
//! knows — the man pages (`man/sentri.1` and one `sentri-SUB.1` per subcommand, nested ones as
//! `sentri-db-test.1`) rendered by clap_mangen from the command tree, the completion scripts
//! for bash, zsh and fish, and the packaged unit and example environment file
//! (`systemd/`, as `sentri install-service` writes them for /usr/bin/sentri, /var/lib/sentri
//! and the `sentri` user). The package's assets point at what this writes (`Cargo.toml`,
//! `[package.metadata.deb]`, from `packaging/out/`), so none of it can drift from the binary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory;
use clap_complete::Shell;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The folder to write into (man/ and completions/ inside it).
    dir: PathBuf,
}

pub fn run<C: CommandFactory>(args: Args) -> anyhow::Result<ExitCode> {
    let mut command = C::command();
    command.build();
    let man = args.dir.join("man");
    std::fs::create_dir_all(&man).with_context(|| format!("creating {}", man.display()))?;
    let mut pages = 0;
    write_pages(&command, "sentri", "sentri", &man, &mut pages)?;
    let completions = args.dir.join("completions");
    std::fs::create_dir_all(&completions).with_context(|| format!("creating {}", completions.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut command, "sentri", &completions)
            .with_context(|| format!("writing the {shell} completions"))?;
        println!("{}", path.display());
    }
    let systemd = args.dir.join("systemd");
    std::fs::create_dir_all(&systemd).with_context(|| format!("creating {}", systemd.display()))?;
    let spec = super::install_service::UnitSpec {
        exec: Path::new("/usr/bin/sentri"),
        home: Path::new(super::install_service::DEFAULT_SERVICE_HOME),
        user: "sentri",
        env_file: Path::new(super::install_service::DEFAULT_ENV_PATH),
    };
    for (name, text) in [
        ("sentri.service", super::install_service::unit_text(&spec)),
        ("sentri.env", super::install_service::env_text(&sentri::config::Config::default())),
    ] {
        let path = systemd.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    println!("{pages} man pages in {}", man.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes `name.1` for `command` (its usage shown as `usage`, e.g. `sentri db test`) and
/// recurses into its visible subcommands.
fn write_pages(command: &clap::Command, name: &str, usage: &str, dir: &Path, pages: &mut usize) -> anyhow::Result<()> {
    let command = command.clone().name(name.to_owned()).bin_name(usage.to_owned());
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page).with_context(|| format!("rendering {name}.1"))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    *pages += 1;
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set() && sub.get_name() != "help") {
        let sub_name = sub.get_name();
        write_pages(sub, &format!("{name}-{sub_name}"), &format!("{usage} {sub_name}"), dir, pages)?;
    }
    Ok(())
}
