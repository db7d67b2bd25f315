//! The stack dir of an older sfcrime, which held its one broker directly
//! instead of in `node-1/`: recognising it, stopping a broker that still
//! runs from it, and moving its files into `node-1/` so the broker keeps
//! its data.

use crate::mode::Mode;
use crate::{daemon, node, Stack, STOP_TIMEOUT};
use anyhow::{bail, Context, Result};
use std::fs;

impl Stack {
    /// Stack dirs made before sfcrime ran clusters held their one broker
    /// directly (`kafka.pid`, `kafka.log`, the data dir, the generated
    /// server properties): move those into `node-1/` so the broker keeps its
    /// data. One still running from there is stopped first when
    /// `stop_running` (its pid is returned); otherwise that is an error.
    pub(crate) fn adopt_single_broker_layout(&self, stop_running: bool) -> Result<Option<u32>> {
        let legacy = daemon::Daemon {
            name: "Kafka broker",
            main_class: "kafka.Kafka",
            pid_file: self.stack_dir.join("kafka.pid"),
            log_file: self.stack_dir.join("kafka.log"),
            group: false,
        };
        let running = legacy.running_pid()?;
        if let Some(pid) = running {
            if !stop_running {
                bail!(
                    "a broker started by an older sfcrime runs from {} (pid {pid}); stop it \
                     with `sfcrime stack down`",
                    self.stack_dir.display()
                );
            }
        }
        legacy.stop(STOP_TIMEOUT)?;
        let first = node::node_dir(&self.stack_dir, 1);
        let formatted = [Mode::Kraft, Mode::Zookeeper].into_iter().any(|mode| {
            self.stack_dir
                .join(mode.data_dir())
                .join("meta.properties")
                .is_file()
        });
        if formatted && !first.exists() {
            fs::create_dir_all(&first)
                .with_context(|| format!("cannot create {}", first.display()))?;
            for name in [Mode::Kraft, Mode::Zookeeper]
                .into_iter()
                .flat_map(|mode| [mode.data_dir(), file_name(mode.server_template())])
                .chain(["kafka.log"])
            {
                let from = self.stack_dir.join(name);
                if from.exists() {
                    fs::rename(&from, first.join(name)).with_context(|| {
                        format!("cannot move {} into {}", from.display(), first.display())
                    })?;
                }
            }
        }
        Ok(running)
    }
}

/// The last component of a `/`-separated relative path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use crate::tests::stack;
    use crate::Stack;
    use sfcrime_config::Settings;
    use std::fs;

    #[test]
    fn a_single_broker_stack_dir_of_old_moves_into_node_1() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("stack");
        fs::create_dir_all(old.join("data")).unwrap();
        fs::write(old.join("data/meta.properties"), "cluster.id=abc\n").unwrap();
        fs::write(old.join("kafka.log"), "log\n").unwrap();
        fs::write(
            old.join("server.properties"),
            "controller.quorum.voters=1@x:1\n",
        )
        .unwrap();
        // A stale pid file: no broker runs with this pid.
        fs::write(old.join("kafka.pid"), format!("{} 9092\n", u32::MAX)).unwrap();
        let stack = stack(dir.path(), 1);
        assert_eq!(stack.adopt_single_broker_layout(false).unwrap(), None);
        let node = &stack.nodes[0];
        assert!(node.is_formatted() && node.log_file().is_file());
        assert_eq!(node.cluster_id().as_deref(), Some("abc"));
        assert_eq!(node.formatted_voters(), Some(vec![1]));
        assert!(!old.join("kafka.pid").exists() && !old.join("data").exists());
        assert!(stack.check_shape().is_ok());
    }

    #[test]
    fn a_zookeeper_mode_stack_dir_of_old_moves_into_node_1() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("stack");
        fs::create_dir_all(old.join("data-zk")).unwrap();
        fs::write(old.join("data-zk/meta.properties"), "broker.id=0\n").unwrap();
        fs::write(old.join("server-zookeeper.properties"), "broker.id=0\n").unwrap();
        fs::write(
            old.join("kafka.pid"),
            format!("{} 9092 zookeeper\n", u32::MAX),
        )
        .unwrap();
        let mut settings = Settings::load_with_env(dir.path(), None, Vec::new()).unwrap();
        settings.set_flag("stack.dir", Some(old.display()));
        settings.set_flag("kafka.mode", Some("zookeeper"));
        let stack = Stack::from_settings(&settings).unwrap();
        assert_eq!(stack.adopt_single_broker_layout(false).unwrap(), None);
        let node = &stack.nodes[0];
        assert_eq!(node.data_dir(), old.join("node-1/data-zk"));
        assert!(node.is_formatted());
        assert!(old.join("node-1/server-zookeeper.properties").is_file());
        assert!(!old.join("kafka.pid").exists() && !old.join("data-zk").exists());
    }
}
