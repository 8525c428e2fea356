//! The Debian package (issue 16, part 5), without installing cargo-deb on CI: this test reads
//! `[package.metadata.deb]` from Cargo.toml — its asset list and maintainer scripts, the ones
//! `cargo deb` reads (tools/build-deb.sh) — generates what it points at with the real binary
//! (`sentri generate-docs`), lays the assets out exactly as listed, builds the package with
//! `dpkg-deb --build`, and checks `dpkg-deb -c`: the binary, the unit, the secrets file (0600),
//! one man page per subcommand, the completions and the default pack. A listed asset that does
//! not exist, or a man page missing for a subcommand, fails it.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// `[source, destination, mode]` rows of `assets = [...]` in `[package.metadata.deb]`.
fn deb_assets(manifest: &str) -> Vec<[String; 3]> {
    let section = manifest.split("[package.metadata.deb]").nth(1).expect("a [package.metadata.deb] section");
    let assets = section.split("assets = [").nth(1).expect("assets = [");
    let assets = &assets[..assets.find("\n]").expect("the end of assets")];
    assets
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with('['))
        .map(|line| {
            let cells: Vec<String> = line
                .trim_matches(|c| c == '[' || c == ']' || c == ',')
                .split(',')
                .map(|cell| cell.trim().trim_matches('"').to_owned())
                .collect();
            [cells[0].clone(), cells[1].clone(), cells[2].clone()]
        })
        .collect()
}

fn metadata_value(manifest: &str, key: &str) -> String {
    let section = manifest.split("[package.metadata.deb]").nth(1).expect("section");
    section
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key} = ")))
        .map(|value| value.trim().trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("{key} in [package.metadata.deb]"))
}

/// Files matching a cargo-deb source: a plain path, `dir/*.ext`, or `dir/**/*` (every file
/// below, the path under `dir` kept), each with the path it takes under the destination.
fn expand(source: &Path, pattern: &str) -> Vec<(PathBuf, PathBuf)> {
    if let Some(base) = pattern.strip_suffix("/**/*") {
        let mut found = Vec::new();
        let root = source.join(base);
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let relative = path.strip_prefix(&root).expect("under root").to_path_buf();
                    found.push((path, relative));
                }
            }
        }
        return found;
    }
    if let Some((dir, suffix)) = pattern.rsplit_once("/*") {
        return std::fs::read_dir(source.join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.to_string_lossy().ends_with(suffix))
            .map(|path| {
                let name = PathBuf::from(path.file_name().expect("name"));
                (path, name)
            })
            .collect();
    }
    let path = source.join(pattern);
    let name = PathBuf::from(path.file_name().expect("name"));
    vec![(path, name)]
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

#[test]
fn the_deb_metadata_builds_a_package_with_the_binary_unit_user_man_pages_completions_and_pack() {
    let manifest = std::fs::read_to_string(Path::new(MANIFEST_DIR).join("Cargo.toml")).expect("Cargo.toml");
    let assets = deb_assets(&manifest);
    assert!(assets.len() >= 8, "{assets:?}");
    // Same file system as the binary, so it is linked, not copied.
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let generated = work.path().join("generated");
    run(Command::new(cargo_bin("sentri")).arg("generate-docs").arg(&generated));

    let root = work.path().join("root");
    for [source, destination, mode] in &assets {
        let files = if source == "target/release/sentri" {
            // cargo deb builds the release binary; the debug one stands in for the listing.
            vec![(cargo_bin("sentri"), PathBuf::from("sentri"))]
        } else if let Some(generated_path) = source.strip_prefix("packaging/out/") {
            expand(&generated, generated_path)
        } else {
            expand(Path::new(MANIFEST_DIR), source)
        };
        assert!(!files.is_empty(), "asset {source} matches nothing");
        for (from, relative) in files {
            assert!(from.is_file(), "asset {source}: {} is missing", from.display());
            let to =
                if destination.ends_with('/') { root.join(destination).join(relative) } else { root.join(destination) };
            std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            if std::fs::hard_link(&from, &to).is_err() {
                std::fs::copy(&from, &to).expect("copy");
            }
            let mode = u32::from_str_radix(mode, 8).expect("octal mode");
            use std::os::unix::fs::PermissionsExt as _;
            // A hard link shares its mode with the source: copy instead when they differ.
            if std::fs::metadata(&to).expect("meta").permissions().mode() & 0o777 != mode {
                std::fs::remove_file(&to).expect("unlink");
                std::fs::copy(&from, &to).expect("copy");
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).expect("chmod");
            }
        }
    }
    let control = root.join("DEBIAN");
    std::fs::create_dir_all(&control).expect("DEBIAN");
    let scripts = Path::new(MANIFEST_DIR).join(metadata_value(&manifest, "maintainer-scripts"));
    for script in ["postinst", "prerm", "postrm"] {
        let text = std::fs::read_to_string(scripts.join(script)).expect(script).replace("#DEBHELPER#", "");
        let path = control.join(script);
        std::fs::write(&path, text).expect("script");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::write(control.join("conffiles"), "/etc/sentri/sentri.env\n").expect("conffiles");
    let architecture = run(Command::new("dpkg").arg("--print-architecture")).trim().to_owned();
    std::fs::write(
        control.join("control"),
        format!(
            "Package: sentri\nVersion: {}\nArchitecture: {architecture}\nMaintainer: {}\nSection: {}\nPriority: {}\nDepends: passwd, util-linux\nDescription: {}\n",
            env!("CARGO_PKG_VERSION"),
            metadata_value(&manifest, "maintainer"),
            metadata_value(&manifest, "section"),
            metadata_value(&manifest, "priority"),
            env!("CARGO_PKG_DESCRIPTION"),
        ),
    )
    .expect("control");
    let deb = work.path().join("sentri.deb");
    run(Command::new("dpkg-deb").args(["--root-owner-group", "-Znone", "--build"]).arg(&root).arg(&deb));

    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let entry = |path: &str| listing.lines().find(|line| line.ends_with(&format!(" ./{path}"))).map(str::to_owned);
    for path in [
        "usr/bin/sentri",
        "lib/systemd/system/sentri.service",
        "etc/sentri/sentri.env",
        "usr/share/man/man1/sentri.1",
        "usr/share/man/man1/sentri-start.1",
        "usr/share/man/man1/sentri-install-service.1",
        "usr/share/man/man1/sentri-db-test.1",
        "usr/share/bash-completion/completions/sentri",
        "usr/share/zsh/vendor-completions/_sentri",
        "usr/share/fish/vendor_completions.d/sentri.fish",
        "usr/share/sentri/policies/postgres/pg_sequence_exhaustion.md",
        "usr/share/doc/sentri/README.md",
    ] {
        assert!(entry(path).is_some(), "{path} in the package:\n{listing}");
    }
    assert!(entry("usr/bin/sentri").is_some_and(|line| line.starts_with("-rwxr-xr-x root/root")), "{listing}");
    assert!(entry("etc/sentri/sentri.env").is_some_and(|line| line.starts_with("-rw------- root/root")), "{listing}");
    let pages = listing.lines().filter(|line| line.contains("./usr/share/man/man1/sentri")).count();
    assert!(pages > 20, "one man page per subcommand ({pages})");
    let unit = std::fs::read_to_string(generated.join("systemd/sentri.service")).expect("unit");
    for line in
        ["ExecStart=/usr/bin/sentri start", "User=sentri", "Environment=SENTRI_HOME=/var/lib/sentri", "Type=notify"]
    {
        assert!(unit.lines().any(|l| l == line), "{line} in the packaged unit:\n{unit}");
    }
    let info = run(Command::new("dpkg-deb").arg("-I").arg(&deb));
    assert!(info.contains("postinst") && info.contains("conffiles"), "{info}");
    let script = std::fs::read_to_string(scripts.join("postinst")).expect("postinst");
    assert!(script.contains("useradd --system") && script.contains(" sentri\n"), "postinst creates the sentri user");
}
