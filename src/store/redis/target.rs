//! What `REDIS_URL` names: one Redis server, a Redis Cluster (its seed nodes), or a master watched by Sentinel.
//!
//! - `redis://[user:password@]host:port[/db]` (or `rediss://`): one server.
//! - `redis+cluster://[user:password@]host:port,host:port,...`: a Redis Cluster; any reachable seed node is
//!   enough, the client learns the others and follows failovers and slot moves.
//! - `redis+sentinel://[user:password@]host:port,host:port,.../master-name[/db]`: the master that the Sentinels
//!   name `master-name`; the credentials are the master's (the Sentinels are asked without them).

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    Single {
        url: String,
    },
    /// One `redis://` URL per seed node, each with the credentials.
    Cluster {
        nodes: Vec<String>,
    },
    Sentinel {
        sentinels: Vec<String>,
        master: String,
        auth: Auth,
        db: i64,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth {
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Why a `REDIS_URL` cannot be used; never shows the password.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("must start with redis://, rediss://, unix://, redis+cluster:// or redis+sentinel://")]
    Scheme,
    #[error("names no host")]
    NoHost,
    #[error("has an invalid host:port '{0}'")]
    HostPort(String),
    #[error(
        "names no master: a redis+sentinel:// URL names it after the hosts, as in redis+sentinel://host:26379/mymaster"
    )]
    NoMaster,
    #[error("names a database that is not a number: '{0}'")]
    Database(String),
}

impl RedisTarget {
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        if url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://") {
            return Ok(Self::Single { url: url.to_owned() });
        }
        if let Some(rest) = url.strip_prefix("redis+cluster://") {
            let (auth, hosts, _path) = split(rest)?;
            let nodes = hosts.into_iter().map(|host| node_url(&auth, &host, 0)).collect();
            return Ok(Self::Cluster { nodes });
        }
        if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            let (auth, hosts, path) = split(rest)?;
            let mut parts = path.split('/').filter(|p| !p.is_empty());
            let master = parts.next().ok_or(TargetError::NoMaster)?.to_owned();
            let db = match parts.next() {
                Some(db) => db.parse().map_err(|_| TargetError::Database(db.to_owned()))?,
                None => 0,
            };
            let sentinels = hosts.iter().map(|host| format!("redis://{host}")).collect();
            // Handed to the client as they are, not inside a URL: undo the URL's percent-encoding.
            let auth = Auth {
                username: auth.username.as_deref().map(percent_decoded),
                password: auth.password.as_deref().map(percent_decoded),
            };
            return Ok(Self::Sentinel { sentinels, master, auth, db });
        }
        Err(TargetError::Scheme)
    }

    /// `single`, `cluster` or `sentinel`, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Single { .. } => "single",
            Self::Cluster { .. } => "cluster",
            Self::Sentinel { .. } => "sentinel",
        }
    }
}

/// `[user:password@]host:port,host:port[/path]` → the credentials, each `host:port`, and the path.
fn split(rest: &str) -> Result<(Auth, Vec<String>, String), TargetError> {
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], rest[at..].to_owned()),
        None => (rest, String::new()),
    };
    let (auth, hosts) = match authority.rfind('@') {
        Some(at) => (auth_of(&authority[..at]), &authority[at + 1..]),
        None => (Auth::default(), authority),
    };
    let hosts: Vec<String> = hosts.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned).collect();
    if hosts.is_empty() {
        return Err(TargetError::NoHost);
    }
    for host in &hosts {
        let valid = host.rsplit_once(':').is_some_and(|(name, port)| !name.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            return Err(TargetError::HostPort(host.clone()));
        }
    }
    Ok((auth, hosts, path))
}

fn auth_of(userinfo: &str) -> Auth {
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    };
    Auth {
        username: (!user.is_empty()).then(|| user.to_owned()),
        password: password.filter(|p| !p.is_empty()).map(str::to_owned),
    }
}

/// `%40` → `@` and so on; a `%` not followed by two hex digits stays as it is.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A `redis://` URL of one node with the credentials (already percent-encoded as they came in the URL).
pub(crate) fn node_url(auth: &Auth, host: &str, db: i64) -> String {
    let userinfo = match (&auth.username, &auth.password) {
        (None, None) => String::new(),
        (user, password) => {
            format!(
                "{}{}@",
                user.as_deref().unwrap_or(""),
                password.as_deref().map(|p| format!(":{p}")).unwrap_or_default()
            )
        }
    };
    if db == 0 { format!("redis://{userinfo}{host}") } else { format!("redis://{userinfo}{host}/{db}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_one_server_a_cluster_or_a_sentinel_master() {
        let cases: &[(&str, Result<RedisTarget, TargetError>)] = &[
            ("redis://127.0.0.1:6379/2", Ok(RedisTarget::Single { url: "redis://127.0.0.1:6379/2".into() })),
            ("rediss://h:6380", Ok(RedisTarget::Single { url: "rediss://h:6380".into() })),
            (
                "redis+cluster://127.0.0.1:7000,127.0.0.1:7001",
                Ok(RedisTarget::Cluster {
                    nodes: vec!["redis://127.0.0.1:7000".into(), "redis://127.0.0.1:7001".into()],
                }),
            ),
            (
                "redis+cluster://:s3cret@a:7000, b:7001",
                Ok(RedisTarget::Cluster {
                    nodes: vec!["redis://:s3cret@a:7000".into(), "redis://:s3cret@b:7001".into()],
                }),
            ),
            (
                "redis+sentinel://app:pw@s1:26379,s2:26379/kyc/3",
                Ok(RedisTarget::Sentinel {
                    sentinels: vec!["redis://s1:26379".into(), "redis://s2:26379".into()],
                    master: "kyc".into(),
                    auth: Auth { username: Some("app".into()), password: Some("pw".into()) },
                    db: 3,
                }),
            ),
            ("redis+sentinel://s1:26379", Err(TargetError::NoMaster)),
            ("redis+sentinel://s1:26379/m/x", Err(TargetError::Database("x".into()))),
            ("redis+cluster://", Err(TargetError::NoHost)),
            ("redis+cluster://a:7000,b", Err(TargetError::HostPort("b".into()))),
            ("localhost:6379", Err(TargetError::Scheme)),
        ];
        for (url, expected) in cases {
            assert_eq!(&RedisTarget::parse(url), expected, "{url}");
        }
    }

    #[test]
    fn a_sentinel_masters_password_is_percent_decoded() {
        let Ok(RedisTarget::Sentinel { auth, .. }) = RedisTarget::parse("redis+sentinel://:p%40ss%2Fw%zz@s:26379/m")
        else {
            panic!("a sentinel target");
        };
        assert_eq!(auth.password.as_deref(), Some("p@ss/w%zz"));
    }

    #[test]
    fn errors_never_show_the_password() {
        let err = RedisTarget::parse("redis+cluster://:hunter2@a:7000,b:x").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
