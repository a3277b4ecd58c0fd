//! Highly available Redis set-ups of a test's own, on loopback: a Redis Cluster (three masters with one replica
//! each, started by `scripts/redis-cluster.sh`) and a master with a replica watched by one Sentinel. Each is
//! stopped when dropped; a test kills a master to watch the app through the failover.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/redis-cluster.sh")
}

fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli").arg("-p").arg(port.to_string()).args(args).output();
    output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The pid of the server on `port`, from `INFO server`.
fn pid_of(port: u16) -> Option<u32> {
    cli(port, &["info", "server"])
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
}

fn kill(pid: u32) {
    let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
}

pub struct LocalCluster {
    pub base_port: u16,
    pub url: String,
}

impl LocalCluster {
    pub fn start(base_port: u16) -> Self {
        let _ = Command::new("bash").arg(script()).args(["stop", &base_port.to_string()]).status();
        let output =
            Command::new("bash").arg(script()).args(["start", &base_port.to_string()]).output().expect("bash runs");
        assert!(output.status.success(), "cluster start: {}", String::from_utf8_lossy(&output.stderr));
        let url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Self { base_port, url }
    }

    /// The port of the master that holds the slot of `key` now.
    pub fn master_of(&self, key: &str) -> u16 {
        self.serving(key).unwrap_or_else(|| panic!("no master holds the slot of {key}"))
    }

    /// The port of the live master that holds the slot of `key`, if one does.
    fn serving(&self, key: &str) -> Option<u16> {
        // Ask a node that answers (the first one may be the master a test killed).
        let alive = (self.base_port..self.base_port + 6).find(|p| cli(*p, &["ping"]).contains("PONG"))?;
        let slot: u16 = cli(alive, &["cluster", "keyslot", key]).trim().parse().ok()?;
        let nodes = cli(alive, &["cluster", "nodes"]);
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let port: u16 = fields[1].split(['@', ':']).nth(1).and_then(|p| p.parse().ok()).expect("a port");
            let holds = fields[8..].iter().any(|range| match range.split_once('-') {
                Some((a, b)) => a.parse::<u16>().is_ok_and(|a| a <= slot) && b.parse::<u16>().is_ok_and(|b| slot <= b),
                None => range.parse::<u16>().is_ok_and(|s| s == slot),
            });
            if holds {
                return Some(port);
            }
        }
        None
    }

    /// SIGKILLs the master holding `key`'s slot; once a replica has taken its place, answers the ports of the
    /// dead master and of the new one.
    pub fn kill_master_of(&self, key: &str) -> (u16, u16) {
        let port = self.master_of(key);
        kill(pid_of(port).expect("the master's pid"));
        let mut now = port;
        wait_until("a replica takes over the dead master's slots", Duration::from_secs(30), || {
            now = self.serving(key).unwrap_or(port);
            now != port
        });
        (port, now)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script()).args(["stop", &self.base_port.to_string()]).status();
    }
}

/// A master (`base`), its replica (`base + 1`) and one Sentinel (`base + 2`, quorum 1) watching them as `mymaster`.
pub struct LocalSentinel {
    pub base_port: u16,
    pub url: String,
    dir: PathBuf,
    children: Vec<Child>,
}

impl LocalSentinel {
    pub const MASTER: &'static str = "mymaster";

    pub fn start(base_port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("wa-onboard-sentinel-{base_port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder");
        for port in base_port..base_port + 3 {
            let _ = cli(port, &["shutdown", "nosave"]);
        }
        let (master, replica, sentinel) = (base_port, base_port + 1, base_port + 2);
        let server = |port: u16, extra: &[String]| {
            Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is installed")
        };
        let mut children = vec![server(master, &[])];
        children.push(server(replica, &["--replicaof".into(), "127.0.0.1".into(), master.to_string()]));
        let config = dir.join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {sentinel}\nbind 127.0.0.1\ndir {}\nsentinel monitor {m} 127.0.0.1 {master} 1\n\
                 sentinel down-after-milliseconds {m} 2000\nsentinel failover-timeout {m} 5000\n",
                dir.display(),
                m = Self::MASTER
            ),
        )
        .expect("sentinel.conf");
        children.push(
            Command::new("redis-server")
                .arg(&config)
                .arg("--sentinel")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server runs as a Sentinel"),
        );
        wait_until("the replica is in sync", Duration::from_secs(20), || {
            cli(replica, &["info", "replication"]).contains("master_link_status:up")
        });
        wait_until("the Sentinel knows the replica", Duration::from_secs(20), || {
            cli(sentinel, &["sentinel", "replicas", Self::MASTER]).contains(&replica.to_string())
        });
        wait_until("the Sentinel names the master", Duration::from_secs(20), || {
            // Named, and not taken for down (what a client checks before it connects).
            let info = cli(sentinel, &["sentinel", "master", Self::MASTER]);
            let flags = info.lines().skip_while(|l| *l != "flags").nth(1).unwrap_or_default().to_owned();
            info.contains(&master.to_string()) && flags == "master"
        });
        let url = format!("redis+sentinel://127.0.0.1:{sentinel}/{}", Self::MASTER);
        Self { base_port, url, dir, children }
    }

    /// The port of the master the Sentinel names now.
    pub fn master_port(&self) -> u16 {
        let answer = cli(self.base_port + 2, &["sentinel", "get-master-addr-by-name", Self::MASTER]);
        answer.lines().nth(1).and_then(|p| p.trim().parse().ok()).expect("the Sentinel names a master")
    }

    /// SIGKILLs the master and waits until the Sentinel has promoted the replica.
    pub fn kill_master(&self) {
        let old = self.master_port();
        kill(pid_of(old).expect("the master's pid"));
        wait_until("the Sentinel promotes the replica", Duration::from_secs(30), || self.master_port() != old);
    }
}

impl Drop for LocalSentinel {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
