//! The Debian package (issue 16, part 5), built by the real `cargo deb` from
//! `[package.metadata.deb]`: what the binary generates (`sentri generate-docs packaging/out`:
//! man pages, completions, the unit, the example environment file) is written where the asset
//! list points, then `cargo deb` packages the debug binary already built for the tests
//! (`--profile dev --no-build`: no release build on CI) and `dpkg-deb -c` must list the binary,
//! the unit, the secrets file (0600), one man page per subcommand, the completions and the
//! default pack, and `dpkg-deb -I` the maintainer scripts. cargo-deb is installed by `.ci/run`
//! (`cargo install cargo-deb --locked`, under a minute here); `tools/build-deb.sh` is the
//! release build of the same package.

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::cargo_bin;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn cargo_deb_builds_a_package_with_the_binary_unit_user_man_pages_completions_and_pack() {
    let installed = Command::new("cargo").args(["deb", "--version"]).output().is_ok_and(|o| o.status.success());
    assert!(installed, "cargo-deb is missing: cargo install cargo-deb --locked (.ci/run does)");
    let out = Path::new(MANIFEST_DIR).join("packaging/out");
    let _ = std::fs::remove_dir_all(&out);
    run(Command::new(cargo_bin("sentri")).arg("generate-docs").arg(&out));
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let deb = work.path().join("sentri.deb");
    // The binary the tests run is the one packaged: cargo-deb finds it in the dev profile's folder.
    let binary = cargo_bin("sentri");
    let target_dir = binary.parent().and_then(Path::parent).expect("the target dir");
    run(Command::new("cargo")
        .current_dir(MANIFEST_DIR)
        .env("CARGO_TARGET_DIR", target_dir)
        .args(["deb", "--profile", "dev", "--no-build", "--no-strip", "--no-dbgsym", "--fast", "--quiet", "-o"])
        .arg(&deb));

    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let entry = |path: &str| listing.lines().find(|line| line.ends_with(&format!(" ./{path}"))).map(str::to_owned);
    for path in [
        "usr/bin/sentri",
        "lib/systemd/system/sentri.service",
        "etc/sentri/sentri.env",
        "usr/share/man/man1/sentri.1.gz",
        "usr/share/man/man1/sentri-start.1.gz",
        "usr/share/man/man1/sentri-install-service.1.gz",
        "usr/share/man/man1/sentri-profiles.1.gz",
        "usr/share/man/man1/sentri-db-test.1.gz",
        "usr/share/bash-completion/completions/sentri",
        "usr/share/zsh/vendor-completions/_sentri",
        "usr/share/fish/vendor_completions.d/sentri.fish",
        "usr/share/sentri/policies/postgres/pg_sequence_exhaustion.md",
        "usr/share/sentri/policies/README.md",
        "usr/share/doc/sentri/README.md",
    ] {
        assert!(entry(path).is_some(), "{path} in the package:\n{listing}");
    }
    assert!(entry("usr/bin/sentri").is_some_and(|line| line.starts_with("-rwxr-xr-x 0/0")), "{listing}");
    assert!(entry("etc/sentri/sentri.env").is_some_and(|line| line.starts_with("-rw------- 0/0")), "{listing}");
    // One page per subcommand: as many as `generate-docs` wrote.
    let written = std::fs::read_dir(out.join("man")).expect("man").count();
    let packaged = listing.lines().filter(|line| line.contains("./usr/share/man/man1/sentri")).count();
    assert!(written > 20 && packaged == written, "{packaged} pages packaged of {written}");
    let policies = walk(&Path::new(MANIFEST_DIR).join("policies"));
    let packaged =
        listing.lines().filter(|line| line.starts_with('-') && line.contains("./usr/share/sentri/policies/")).count();
    assert_eq!(packaged, policies, "the whole default pack");

    let unit = std::fs::read_to_string(out.join("systemd/sentri.service")).expect("unit");
    for line in
        ["ExecStart=/usr/bin/sentri start", "User=sentri", "Environment=SENTRI_HOME=/var/lib/sentri", "Type=notify"]
    {
        assert!(unit.lines().any(|l| l == line), "{line} in the packaged unit:\n{unit}");
    }
    let info = run(Command::new("dpkg-deb").arg("-I").arg(&deb));
    for part in ["postinst", "prerm", "postrm", "conffiles", "Package: sentri", "Depends:"] {
        assert!(info.contains(part), "{part} in:\n{info}");
    }
    let control = work.path().join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    let postinst = std::fs::read_to_string(control.join("postinst")).expect("postinst");
    assert!(
        postinst.contains("useradd --system") && postinst.contains(" sentri\n"),
        "postinst creates the sentri user"
    );
    for script in ["postinst", "prerm", "postrm"] {
        run(Command::new("sh").arg("-n").arg(control.join(script)));
    }
    let conffiles = std::fs::read_to_string(control.join("conffiles")).expect("conffiles");
    assert!(conffiles.lines().any(|line| line == "/etc/sentri/sentri.env"), "{conffiles}");
}

/// Files under `dir`, recursively.
fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|entry| if entry.path().is_dir() { walk(&entry.path()) } else { 1 })
        .sum()
}
