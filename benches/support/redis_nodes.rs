//! A bench's Redis: one server, or the nodes of a cluster, reached node by node (INFO, ROLE) where a cluster
//! client would hide them.

use std::time::Duration;

use anyhow::{Context, Result, bail};

#[derive(Clone)]
pub struct RedisTarget {
    /// What the services are given as REDIS_URL.
    pub url: String,
    /// `redis://host:port` of each node (one for a single server).
    pub nodes: Vec<String>,
    pub cluster: bool,
}

impl RedisTarget {
    pub fn parse(url: &str) -> Result<Self> {
        if let Some(rest) = url.strip_prefix("redis+cluster://") {
            let nodes: Vec<String> =
                rest.split(',').map(str::trim).filter(|n| !n.is_empty()).map(|n| format!("redis://{n}")).collect();
            if nodes.is_empty() {
                bail!("no node in {url}");
            }
            return Ok(Self { url: url.to_owned(), nodes, cluster: true });
        }
        Ok(Self { url: url.to_owned(), nodes: vec![url.to_owned()], cluster: false })
    }

    pub fn connect(node: &str) -> Result<redis::Connection> {
        let client = redis::Client::open(node).with_context(|| format!("bad Redis URL {node}"))?;
        client.get_connection_with_timeout(Duration::from_secs(2)).with_context(|| format!("connect to {node}"))
    }

    /// Every node the cluster knows (from CLUSTER NODES on the first seed that answers), else the seeds.
    pub fn all_nodes(&self) -> Vec<String> {
        for seed in &self.nodes {
            let Ok(mut conn) = Self::connect(seed) else { continue };
            let Ok(listing) = redis::cmd("CLUSTER").arg("NODES").query::<String>(&mut conn) else { continue };
            let nodes: Vec<String> = listing
                .lines()
                .filter_map(|line| line.split_whitespace().nth(1))
                .filter_map(|addr| addr.split('@').next())
                .filter(|addr| !addr.starts_with(':'))
                .map(|addr| format!("redis://{addr}"))
                .collect();
            if !nodes.is_empty() {
                return nodes;
            }
        }
        self.nodes.clone()
    }

    /// The nodes answering as masters now (the only node of a single server).
    pub fn masters(&self) -> Vec<String> {
        if !self.cluster {
            return self.nodes.clone();
        }
        self.all_nodes()
            .iter()
            .filter(|node| {
                Self::connect(node)
                    .and_then(|mut c| Ok(redis::cmd("ROLE").query::<Vec<redis::Value>>(&mut c)?))
                    .is_ok_and(|role| matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master"))
            })
            .cloned()
            .collect()
    }

    /// Sum of numeric INFO fields over the masters (used_memory, used_cpu_sys...).
    pub fn info_sum(&self, section: &str, fields: &[&str]) -> f64 {
        self.info_by_master(section, fields).iter().map(|(_, value)| value).sum()
    }

    /// Each master, with the sum of numeric INFO fields there.
    pub fn info_by_master(&self, section: &str, fields: &[&str]) -> Vec<(String, f64)> {
        let mut by_master = Vec::new();
        for node in self.masters() {
            let Ok(mut conn) = Self::connect(&node) else { continue };
            let Ok(info) = redis::cmd("INFO").arg(section).query::<String>(&mut conn) else { continue };
            let total = info
                .lines()
                .filter_map(|line| line.split_once(':'))
                .filter(|(key, _)| fields.contains(key))
                .map(|(_, value)| value.trim().parse::<f64>().unwrap_or(0.0))
                .sum();
            by_master.push((node, total));
        }
        by_master
    }
}
