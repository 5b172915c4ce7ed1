//! The embedded PostgreSQL cluster: `hookvault serve` without `DATABASE_URL` runs a private
//! cluster from the system's PostgreSQL binaries in its data directory, reachable only through
//! a Unix socket, and stops it on exit.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::postgres::PgConnectOptions;

/// The database role and database name inside the embedded cluster.
const ROLE: &str = "hookvault";
const DATABASE: &str = "hookvault";

/// What can go wrong starting the embedded cluster. Messages are one line and say how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "no PostgreSQL binaries found (looked for initdb and pg_ctl on PATH and in /usr/lib/postgresql/*/bin): \
         install PostgreSQL (e.g. `apt-get install postgresql`) or set DATABASE_URL to an existing server"
    )]
    NoBinaries,
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("embedded cluster I/O error at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A running private cluster. Call [`EmbeddedCluster::stop`] on shutdown.
#[derive(Debug)]
pub struct EmbeddedCluster {
    bin_dir: PathBuf,
    pg_data: PathBuf,
    socket_dir: PathBuf,
    as_postgres_user: bool,
    /// It was already running (started by another process) when [`EmbeddedCluster::start`]
    /// found it.
    adopted: bool,
}

impl EmbeddedCluster {
    /// Initialises the cluster in `data_dir/pg` on first use, then starts it (or adopts one
    /// already running from that directory) and makes sure the `hookvault` database exists.
    pub async fn start(data_dir: &Path) -> Result<Self, EmbeddedError> {
        let bin_dir = find_bin_dir().ok_or(EmbeddedError::NoBinaries)?;
        std::fs::create_dir_all(data_dir).map_err(|source| EmbeddedError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(|source| EmbeddedError::Io {
                path: data_dir.to_path_buf(),
                source,
            })?;
        let pg_data = data_dir.join("pg");
        let mut cluster = Self {
            // Decided by `init_and_start`: a fresh private directory, or the running cluster's.
            socket_dir: PathBuf::new(),
            pg_data,
            bin_dir,
            as_postgres_user: is_root(),
            adopted: false,
        };
        let c = cluster.clone_paths();
        (cluster.socket_dir, cluster.adopted) =
            tokio::task::spawn_blocking(move || c.init_and_start())
                .await
                .map_err(|e| EmbeddedError::Command {
                    what: "starting the embedded cluster".into(),
                    detail: e.to_string(),
                })??;
        cluster.ensure_database(DATABASE).await?;
        Ok(cluster)
    }

    fn clone_paths(&self) -> Self {
        Self {
            bin_dir: self.bin_dir.clone(),
            pg_data: self.pg_data.clone(),
            socket_dir: self.socket_dir.clone(),
            as_postgres_user: self.as_postgres_user,
            adopted: self.adopted,
        }
    }

    /// True when the cluster was already running (another process started it) and this one
    /// only connected to it: then it is not this process's to stop.
    pub fn adopted(&self) -> bool {
        self.adopted
    }

    /// Connection options for the cluster's `hookvault` database over the Unix socket.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.connect_options_for(DATABASE)
    }

    /// Connection options for another database in the cluster (tests create one per test).
    pub fn connect_options_for(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .username(ROLE)
            .database(database)
    }

    /// A `postgres://` URL for the cluster's `hookvault` database (for tools such as psql).
    pub fn url(&self) -> String {
        format!(
            "postgres://{ROLE}@localhost/{DATABASE}?host={}",
            self.socket_dir.display()
        )
    }

    /// The directory holding the cluster's Unix socket: private to the cluster's owner.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Stops the cluster (fast shutdown: open transactions are rolled back, committed data kept)
    /// and removes its socket directory when that was a temporary one.
    pub fn stop(&self) -> Result<(), EmbeddedError> {
        self.pg_ctl(&["stop", "-m", "fast", "-w"], "pg_ctl stop")?;
        if self.socket_dir != self.pg_data {
            let _ = std::fs::remove_dir_all(&self.socket_dir);
        }
        Ok(())
    }

    /// Initialises the cluster if needed and starts it, or adopts it when it already runs;
    /// returns its socket directory and whether it was adopted.
    fn init_and_start(&self) -> Result<(PathBuf, bool), EmbeddedError> {
        if !self.pg_data.join("PG_VERSION").exists() {
            self.initdb()?;
        }
        if self.is_running() {
            return Ok((self.running_socket_dir()?, true));
        }
        let socket_dir = self.new_socket_dir()?;
        // The cluster trusts every local connection (`--auth=trust`), so the socket must be
        // reachable only by its owner: a private directory, and a socket file of mode 0700.
        let opts = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' \
             -c unix_socket_permissions=0700",
            socket_dir.display()
        );
        let log = self.pg_data.join("postgres.log");
        let log = log.to_string_lossy();
        self.pg_ctl(
            &["start", "-w", "-t", "60", "-l", &log, "-o", &opts],
            "pg_ctl start",
        )?;
        Ok((socket_dir, false))
    }

    /// Where a new server puts its socket: the data directory itself when its path is short
    /// enough (initdb makes it 0700), else — Unix socket paths are limited to about 107 bytes —
    /// a new directory with an unpredictable name in the temp directory, created with mode
    /// 0700 and refused if anything already exists there (so nobody can plant it in advance).
    /// Under root it belongs to `postgres`, which runs the cluster.
    fn new_socket_dir(&self) -> Result<PathBuf, EmbeddedError> {
        if self.pg_data.as_os_str().len() <= 80 {
            return Ok(self.pg_data.clone());
        }
        use std::os::unix::fs::DirBuilderExt;
        let dir =
            std::env::temp_dir().join(format!("hookvault-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|source| EmbeddedError::Io {
                path: dir.clone(),
                source,
            })?;
        if self.as_postgres_user {
            run(
                Command::new("chown").args(["postgres:", &*dir.to_string_lossy()]),
                "chown of the socket directory",
            )?;
        }
        Ok(dir)
    }

    /// The socket directory of the server already running from this data directory (line 5
    /// of `postmaster.pid`), which must be private: a directory others can write to could
    /// hold someone else's socket.
    fn running_socket_dir(&self) -> Result<PathBuf, EmbeddedError> {
        let pid_file = self.pg_data.join("postmaster.pid");
        let text = std::fs::read_to_string(&pid_file).map_err(|source| EmbeddedError::Io {
            path: pid_file.clone(),
            source,
        })?;
        let dir = text
            .lines()
            .nth(4)
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| EmbeddedError::Command {
                what: "adopting the running embedded cluster".into(),
                detail: format!("{} names no socket directory", pid_file.display()),
            })?;
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::symlink_metadata(&dir)
            .map_err(|source| EmbeddedError::Io {
                path: dir.clone(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(EmbeddedError::Command {
                what: "adopting the running embedded cluster".into(),
                detail: format!(
                    "its socket directory {} is not private (mode {:o}); stop it \
                     (pg_ctl stop -D {}) and start Hookvault again",
                    dir.display(),
                    mode & 0o7777,
                    self.pg_data.display()
                ),
            });
        }
        Ok(dir)
    }

    /// Creates `database` in the cluster unless it exists.
    pub async fn ensure_database(&self, database: &str) -> Result<(), EmbeddedError> {
        use sqlx::Connection;
        let fail = |e: sqlx::Error| EmbeddedError::Command {
            what: format!("creating database {database}"),
            detail: e.to_string(),
        };
        let mut conn = sqlx::PgConnection::connect_with(&self.connect_options_for("postgres"))
            .await
            .map_err(fail)?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(database)
                .fetch_one(&mut conn)
                .await
                .map_err(fail)?;
        if !exists {
            // Identifiers cannot be bound as parameters; quote it as an identifier.
            let quoted = format!("\"{}\"", database.replace('"', "\"\""));
            sqlx::query(&format!("CREATE DATABASE {quoted}"))
                .execute(&mut conn)
                .await
                .map_err(fail)?;
        }
        Ok(())
    }

    fn initdb(&self) -> Result<(), EmbeddedError> {
        std::fs::create_dir_all(&self.pg_data).map_err(|source| EmbeddedError::Io {
            path: self.pg_data.clone(),
            source,
        })?;
        if self.as_postgres_user {
            // initdb and postgres refuse to run as root; the cluster belongs to `postgres`.
            let parent = self.pg_data.parent().unwrap_or(&self.pg_data);
            run(
                Command::new("chown").args(["postgres:", &*parent.to_string_lossy()]),
                "chown of the data directory",
            )?;
            run(
                Command::new("chown").args(["-R", "postgres:", &*self.pg_data.to_string_lossy()]),
                "chown of the cluster directory",
            )?;
            let reachable = Command::new("runuser")
                .args(["-u", "postgres", "--", "test", "-w"])
                .arg(&self.pg_data)
                .status()
                .is_ok_and(|s| s.success());
            if !reachable {
                return Err(EmbeddedError::Command {
                    what: "preparing the embedded cluster".into(),
                    detail: format!(
                        "the postgres user cannot reach {} (a parent directory is private, e.g. /root): \
                         choose a --data-dir it can reach, such as /var/lib/hookvault",
                        self.pg_data.display()
                    ),
                });
            }
        }
        let data = self.pg_data.to_string_lossy().into_owned();
        self.run_pg(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                ROLE,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ],
        )?;
        // Tuned for the capture hot path on a small machine: big WAL budget and spread-out
        // checkpoints (the p99 spikes came from checkpoints), lz4 for TOAST and WAL, and new
        // WAL segments are not zero-filled first (16 MB of writes each, ~4% of the CPU while
        // the WAL grows). Durability stays on: synchronous_commit, fsync and
        // full_page_writes keep their defaults.
        let tuning = "\n# --- hookvault embedded settings ---\n\
            shared_buffers = 256MB\n\
            wal_buffers = 16MB\n\
            max_wal_size = 4GB\n\
            min_wal_size = 512MB\n\
            checkpoint_timeout = 15min\n\
            checkpoint_completion_target = 0.9\n\
            default_toast_compression = lz4\n\
            wal_compression = lz4\n\
            wal_init_zero = off\n\
            max_connections = 100\n";
        let conf = self.pg_data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(|source| EmbeddedError::Io {
            path: conf.clone(),
            source,
        })?;
        text.push_str(tuning);
        std::fs::write(&conf, text).map_err(|source| EmbeddedError::Io { path: conf, source })
    }

    fn is_running(&self) -> bool {
        let data = self.pg_data.to_string_lossy().into_owned();
        self.command("pg_ctl", &["status", "-D", &data])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// Starts the cluster again if its server is gone (killed, crashed): PostgreSQL recovers
    /// from its WAL, so every committed transaction is kept. Returns whether it had to start it.
    /// Blocking: call it from a blocking task.
    pub fn ensure_running(&self) -> Result<bool, EmbeddedError> {
        if self.is_running() {
            return Ok(false);
        }
        self.init_and_start()?;
        Ok(true)
    }

    fn pg_ctl(&self, args: &[&str], what: &str) -> Result<(), EmbeddedError> {
        let data = self.pg_data.to_string_lossy().into_owned();
        let mut full = vec!["-D", &data];
        full.extend_from_slice(args);
        self.run_pg_what("pg_ctl", &full, what)
    }

    fn run_pg(&self, tool: &str, args: &[&str]) -> Result<(), EmbeddedError> {
        self.run_pg_what(tool, args, tool)
    }

    fn run_pg_what(&self, tool: &str, args: &[&str], what: &str) -> Result<(), EmbeddedError> {
        run(&mut self.command(tool, args), what)
    }

    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let exe = self.bin_dir.join(tool);
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args).current_dir("/");
        cmd
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<(), EmbeddedError> {
    let out = cmd.output().map_err(|e| EmbeddedError::Command {
        what: what.to_string(),
        detail: e.to_string(),
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let detail = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .to_string();
    Err(EmbeddedError::Command {
        what: what.to_string(),
        detail,
    })
}

/// Finds the directory holding `initdb` and `pg_ctl`: the PATH first, then the newest
/// /usr/lib/postgresql/*/bin.
pub fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_tools(&dir) {
                // Follow a symlinked initdb (Debian links /usr/local/bin/initdb) to the real
                // bin directory, which also holds postgres and createdb.
                let real = dir
                    .join("initdb")
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf));
                return Some(real.filter(|d| has_tools(d)).unwrap_or(dir));
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has_tools(d))
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d)
}

fn is_root() -> bool {
    // SAFETY-free check: the effective uid is readable from /proc without libc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
