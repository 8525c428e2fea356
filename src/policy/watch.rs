//! Hot reload: a changed, new or deleted policy file takes effect without a restart.
//!
//! The whole [`PolicySet`] is reloaded and swapped in one atomic step, so a reader sees either
//! the old pack or the new one, never a mix; a file saved half-way simply shows up as a problem
//! until the next save.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};

use super::PolicySet;

/// The folders whose files make up the policy set.
const POLICY_FOLDERS: &[&str] = &["alerts", "checks", "brain", "environments"];

/// The policy pack currently in force; cheap to clone and read from any thread.
#[derive(Clone)]
pub struct LivePolicies {
    current: Arc<ArcSwap<PolicySet>>,
    home: PathBuf,
}

/// Keeps the file watcher alive; dropping it stops hot reload.
pub struct WatchGuard {
    _watcher: notify::RecommendedWatcher,
    _thread: std::thread::JoinHandle<()>,
}

impl LivePolicies {
    pub fn load(home: &Path) -> LivePolicies {
        LivePolicies { current: Arc::new(ArcSwap::from_pointee(PolicySet::load(home))), home: home.to_path_buf() }
    }

    /// The home the pack is read from.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The snapshot to use for one unit of work (one email, one check run).
    pub fn snapshot(&self) -> Arc<PolicySet> {
        self.current.load_full()
    }

    /// Reloads from disk now and swaps the result in.
    pub fn reload(&self) -> Arc<PolicySet> {
        let set = Arc::new(PolicySet::load(&self.home));
        self.current.store(Arc::clone(&set));
        set
    }

    /// Watches alerts/, checks/, brain/ and environments/ and reloads after changes settle.
    /// The home itself is watched, so a folder created later (`mkdir alerts/mysql`) is seen too.
    /// `on_reload` is told about each new set (to log its problems).
    pub fn watch(&self, on_reload: impl Fn(&PolicySet) + Send + 'static) -> notify::Result<WatchGuard> {
        let (sender, receiver) = mpsc::channel();
        let roots: Vec<PathBuf> = POLICY_FOLDERS.iter().map(|folder| self.home.join(folder)).collect();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if !event.kind.is_access() && event.paths.iter().any(|path| roots.iter().any(|root| path.starts_with(root)))
            {
                let _ = sender.send(());
            }
        })?;
        watcher.watch(&self.home, RecursiveMode::Recursive)?;
        let live = self.clone();
        let thread = std::thread::Builder::new().name("policy-reload".into()).spawn(move || {
            while receiver.recv().is_ok() {
                // Let a burst of events (an editor's save, a `cp -r`) settle, then reload once.
                while receiver.recv_timeout(Duration::from_millis(200)).is_ok() {}
                let set = live.reload();
                on_reload(&set);
            }
        })?;
        Ok(WatchGuard { _watcher: watcher, _thread: thread })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const POLICY: &str = "## Email Pattern\n```regex\ndisk (\\w+) full\n```\n";

    fn wait_for(live: &LivePolicies, what: impl Fn(&PolicySet) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if what(&live.snapshot()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    #[test]
    fn new_changed_and_deleted_files_are_picked_up_without_restart() {
        let home = tempfile::tempdir().expect("tempdir");
        let live = LivePolicies::load(home.path());
        assert!(live.snapshot().alerts.is_empty());
        let _guard = live.watch(|_| {}).expect("watch");

        // alerts/ does not exist yet when watching starts: a folder created later is seen.
        std::fs::create_dir_all(home.path().join("alerts/oracle")).expect("mkdir");
        let file = home.path().join("alerts/oracle/disk_full.md");
        std::fs::write(&file, POLICY).expect("write");
        assert!(wait_for(&live, |set| set.alert("disk_full").is_some()), "new file not picked up");

        std::fs::write(&file, POLICY.replace("disk", "volume")).expect("rewrite");
        assert!(
            wait_for(&live, |set| set.alert("disk_full").is_some_and(|p| p.pattern.source.contains("volume"))),
            "edit not picked up"
        );

        std::fs::remove_file(&file).expect("remove");
        assert!(wait_for(&live, |set| set.alerts.is_empty()), "deleted file still matches");
    }
}
