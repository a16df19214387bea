//! Server configuration: command-line flags, each with an environment variable.

use clap::{Args, Parser};
use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;

/// Parley server.
#[derive(Debug, Clone, Parser)]
#[command(name = "parley-server", version, about)]
pub struct Config {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "PARLEY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,

    /// Create the database named in the URL when it does not exist.
    #[arg(long, env = "PARLEY_CREATE_DATABASE")]
    pub create_database: bool,

    /// Directory holding the built web client (Trunk's `dist/`).
    #[arg(long, env = "PARLEY_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// Sign-in and sign-up attempts allowed per client IP per minute.
    #[arg(long, env = "PARLEY_AUTH_IP_PER_MINUTE", default_value = "30")]
    pub auth_ip_per_minute: NonZeroU32,

    /// Sign-in and sign-up attempts allowed per handle per minute.
    #[arg(long, env = "PARLEY_AUTH_HANDLE_PER_MINUTE", default_value = "10")]
    pub auth_handle_per_minute: NonZeroU32,

    /// Password checks (argon2id, 19 MiB each) run at once [default: half
    /// the cores, at least one]. This bounds the memory a sign-in flood takes.
    #[arg(long, env = "PARLEY_PASSWORD_THREADS")]
    pub password_threads: Option<usize>,

    /// Sign-ins and sign-ups that may wait for a password check; past this
    /// they are answered 503 `busy` with `Retry-After`.
    #[arg(long, env = "PARLEY_PASSWORD_QUEUE", default_value = "32")]
    pub password_queue: usize,

    /// Days a device may go unused before its token expires and it is
    /// signed out (0: never).
    #[arg(long, env = "PARLEY_DEVICE_IDLE_DAYS", default_value = "90")]
    pub device_idle_days: u32,

    /// WebSockets one address may hold open before they authenticate (the
    /// rest are refused until some do).
    #[arg(long, env = "PARLEY_UNAUTHENTICATED_PER_IP", default_value = "256")]
    pub unauthenticated_per_ip: NonZeroUsize,

    /// User look-ups allowed per account per minute (slows down enumeration of phone numbers).
    #[arg(long, env = "PARLEY_LOOKUP_PER_MINUTE", default_value = "60")]
    pub lookup_per_minute: NonZeroU32,

    /// Profile photo changes (set or remove) allowed per account per minute.
    #[arg(long, env = "PARLEY_PHOTO_CHANGES_PER_MINUTE", default_value = "10")]
    pub photo_changes_per_minute: NonZeroU32,

    /// Block changes (block or unblock) allowed per account per minute.
    #[arg(long, env = "PARLEY_BLOCK_CHANGES_PER_MINUTE", default_value = "30")]
    pub block_changes_per_minute: NonZeroU32,

    /// Group changes (created, or an event appended) allowed per account per minute.
    #[arg(long, env = "PARLEY_GROUP_CHANGES_PER_MINUTE", default_value = "60")]
    pub group_changes_per_minute: NonZeroU32,

    /// Largest number of pooled database connections.
    #[arg(long, env = "PARLEY_DB_POOL", default_value = "16")]
    pub db_pool: u32,

    /// The shortest time a connected device may take to ack a message before
    /// it is written to the device's queue instead (milliseconds); the wait
    /// grows with the socket's measured round trip, up to 1 s.
    #[arg(long, env = "PARLEY_ACK_WINDOW_MS", default_value = "50")]
    pub ack_window_ms: u64,

    /// Days an undelivered message waits in a queue before it expires.
    #[arg(long, env = "PARLEY_RETENTION_DAYS", default_value = "30")]
    pub retention_days: u32,

    /// Undelivered messages one device's queue may hold; past this, sends to
    /// it are refused with `recipient_full` until it drains.
    #[arg(long, env = "PARLEY_QUEUE_MAX_MESSAGES", default_value = "10000")]
    pub queue_max_messages: u32,

    /// Bytes (MiB) of undelivered messages one device's queue may hold.
    #[arg(long, env = "PARLEY_QUEUE_MAX_MIB", default_value = "100")]
    pub queue_max_mib: u32,

    /// Messages a stranger (not in the recipient's contacts, and whom the
    /// recipient never wrote to) may have waiting in one device's queue.
    #[arg(long, env = "PARLEY_STRANGER_MAX_QUEUED", default_value = "20")]
    pub stranger_max_queued: u32,

    /// Messages a stranger may send one person in a burst, live or queued,
    /// before being paced to one every 3 s (until the person replies or
    /// adds them).
    #[arg(long, env = "PARLEY_STRANGER_BURST", default_value = "20")]
    pub stranger_burst: NonZeroU32,

    /// Sends one account may make per second, sustained (bursts of twenty
    /// seconds' worth are allowed).
    #[arg(long, env = "PARLEY_SENDS_PER_SECOND", default_value = "1000")]
    pub sends_per_second: NonZeroU32,

    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "PARLEY_WORKERS", default_value = "0")]
    pub workers: usize,

    /// The built-in STUN/TURN relay for calls.
    #[command(flatten)]
    pub turn: TurnConfig,

    /// Web Push to devices with no open socket.
    #[command(flatten)]
    pub push: PushConfig,

    /// Encrypted attachments.
    #[command(flatten)]
    pub blobs: BlobConfig,

    /// NATS server(s) that connect this node to the others (comma-separated
    /// URLs); without it the node works alone.
    #[arg(long, env = "PARLEY_NATS_URL")]
    pub nats_url: Option<String>,

    /// Proxies (load balancers) whose `X-Forwarded-For` names the client
    /// for rate limits (comma-separated addresses or networks such as
    /// `10.42.0.0/16`); others' headers are ignored.
    #[arg(long, env = "PARLEY_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<crate::auth::network::Network>,
}

/// Settings of Web Push (RFC 8030, 8291, 8292).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct PushConfig {
    /// The VAPID signing key (base64url of the 32-byte P-256 secret). When
    /// absent, one is made on first start and kept in the database, so
    /// every node and every restart signs with the same key.
    #[arg(long = "vapid-private-key", env = "PARLEY_VAPID_PRIVATE_KEY")]
    pub vapid_private_key: Option<String>,

    /// Who runs this server, for the push services (`mailto:` or `https:`).
    #[arg(
        long = "push-subject",
        env = "PARLEY_PUSH_SUBJECT",
        default_value = "mailto:postmaster@localhost"
    )]
    pub subject: String,

    /// Hosts (or parent domains) a subscription's endpoint may name, over
    /// HTTPS: the browsers' push services. Nothing else is ever requested,
    /// so a client cannot make the server call into its own network.
    #[arg(
        long = "push-hosts",
        env = "PARLEY_PUSH_HOSTS",
        value_delimiter = ',',
        default_value = "fcm.googleapis.com,push.services.mozilla.com,notify.windows.com,push.apple.com"
    )]
    pub hosts: Vec<String>,

    /// Origins (`http://host:port`) also allowed over plain HTTP: a push
    /// service on the local network, or the receiver of the tests.
    #[arg(
        long = "push-insecure-origins",
        env = "PARLEY_PUSH_INSECURE_ORIGINS",
        value_delimiter = ','
    )]
    pub insecure_origins: Vec<String>,

    /// How long a device's first new message waits for more to ride along
    /// in the same push (milliseconds).
    #[arg(
        long = "push-window-ms",
        env = "PARLEY_PUSH_WINDOW_MS",
        default_value = "200"
    )]
    pub window_ms: u64,

    /// Notification setting changes and subscriptions per account per minute.
    #[arg(
        long = "notification-changes-per-minute",
        env = "PARLEY_NOTIFICATION_CHANGES_PER_MINUTE",
        default_value = "60"
    )]
    pub changes_per_minute: NonZeroU32,

    /// Reads of the queued messages per device per minute (the service worker).
    #[arg(
        long = "push-fetches-per-minute",
        env = "PARLEY_PUSH_FETCHES_PER_MINUTE",
        default_value = "120"
    )]
    pub fetches_per_minute: NonZeroU32,
}

/// Settings of encrypted attachments (blobs).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct BlobConfig {
    /// Where attachments' encrypted chunks are kept: a directory (created
    /// when missing), or `s3://bucket[/prefix]` for an S3-compatible store
    /// that several nodes share, set up by the usual `AWS_*` variables
    /// (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_REGION`, or the `--s3-…` flags).
    #[arg(
        long = "blob-store",
        env = "PARLEY_BLOB_STORE",
        default_value = "data/blobs"
    )]
    pub store: String,
    /// The S3-compatible store's URL (when not AWS itself).
    #[arg(long = "s3-endpoint", env = "AWS_ENDPOINT_URL")]
    pub s3_endpoint: Option<String>,
    /// The S3 access key id.
    #[arg(long = "s3-access-key-id", env = "AWS_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// The S3 secret access key.
    #[arg(
        long = "s3-secret-access-key",
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub s3_secret_access_key: Option<String>,
    /// The S3 region.
    #[arg(long = "s3-region", env = "AWS_REGION")]
    pub s3_region: Option<String>,
    /// The largest attachment, in MiB of ciphertext.
    #[arg(
        long = "max-blob-mib",
        env = "PARLEY_MAX_BLOB_MIB",
        default_value = "2048"
    )]
    pub max_mib: NonZeroU32,
    /// What one account's attachments not yet fetched by everyone may hold
    /// together, in MiB.
    #[arg(
        long = "blob-quota-mib",
        env = "PARLEY_BLOB_QUOTA_MIB",
        default_value = "10240"
    )]
    pub quota_mib: NonZeroU32,
    /// Uploads one account may start per minute.
    #[arg(
        long = "blob-uploads-per-minute",
        env = "PARLEY_BLOB_UPLOADS_PER_MINUTE",
        default_value = "60"
    )]
    pub uploads_per_minute: NonZeroU32,
    /// Chunks (1 MiB each) one device may write or read per minute, in
    /// bursts of as many: what one account can cost the store.
    #[arg(
        long = "blob-chunks-per-minute",
        env = "PARLEY_BLOB_CHUNKS_PER_MINUTE",
        default_value = "3000"
    )]
    pub chunks_per_minute: NonZeroU32,
    /// Seconds a chunk's body may take to arrive (1 MiB in 60 s is 17 KB/s,
    /// which a poor mobile link still makes): a device sending slowly holds
    /// a chunk buffer no longer than this.
    #[arg(
        long = "blob-chunk-seconds",
        env = "PARLEY_BLOB_CHUNK_SECONDS",
        default_value = "60"
    )]
    pub chunk_seconds: NonZeroU32,
}

impl BlobConfig {
    /// The defaults of the flags, over the store `store`.
    pub fn defaults(store: impl Into<String>) -> Self {
        Self {
            store: store.into(),
            s3_endpoint: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_region: None,
            max_mib: NonZeroU32::MIN.saturating_add(2047),
            quota_mib: NonZeroU32::MIN.saturating_add(10_239),
            uploads_per_minute: NonZeroU32::MIN.saturating_add(59),
            chunks_per_minute: NonZeroU32::MIN.saturating_add(2999),
            chunk_seconds: NonZeroU32::MIN.saturating_add(59),
        }
    }

    /// The largest attachment in bytes.
    pub fn max_bytes(&self) -> u64 {
        u64::from(self.max_mib.get()) << 20
    }

    /// One account's quota in bytes.
    pub fn quota_bytes(&self) -> u64 {
        u64::from(self.quota_mib.get()) << 20
    }
}

impl PushConfig {
    /// The defaults of the flags.
    pub fn defaults() -> Self {
        Self {
            vapid_private_key: None,
            subject: "mailto:postmaster@localhost".into(),
            hosts: [
                "fcm.googleapis.com",
                "push.services.mozilla.com",
                "notify.windows.com",
                "push.apple.com",
            ]
            .map(String::from)
            .to_vec(),
            insecure_origins: Vec::new(),
            window_ms: 200,
            changes_per_minute: NonZeroU32::MIN.saturating_add(59),
            fetches_per_minute: NonZeroU32::MIN.saturating_add(119),
        }
    }
}

/// Settings of the built-in STUN/TURN relay (UDP). Clients get its address
/// and short-lived credentials from `GET /api/v1/calls/ice`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct TurnConfig {
    /// UDP port for STUN and TURN (0: no relay; calls then work only where
    /// the browsers reach each other directly).
    #[arg(long = "turn-port", env = "PARLEY_TURN_PORT", default_value = "0")]
    pub port: u16,

    /// Address the relay listens on and relays from [default: the IP of
    /// --bind, or 0.0.0.0 when that is a host name].
    #[arg(long = "turn-listen-ip", env = "PARLEY_TURN_LISTEN_IP")]
    pub listen_ip: Option<IpAddr>,

    /// Address peers reach relayed candidates at (this machine's public IP
    /// behind a 1:1 NAT) [default: the listen IP; required when that is a
    /// wildcard].
    #[arg(long = "turn-public-ip", env = "PARLEY_TURN_PUBLIC_IP")]
    pub public_ip: Option<IpAddr>,

    /// Host name or IP put in the `stun:`/`turn:` URLs handed to clients
    /// [default: the public IP].
    #[arg(long = "turn-host", env = "PARLEY_TURN_HOST")]
    pub host: Option<String>,

    /// Shared secret for TURN credentials (HMAC-SHA1, TURN REST scheme). When
    /// unset a random one is made at each start: credentials then die with a
    /// restart and differ between nodes.
    #[arg(
        long = "turn-secret",
        env = "PARLEY_TURN_SECRET",
        hide_env_values = true
    )]
    pub secret: Option<String>,

    /// Realm of the TURN long-term credentials.
    #[arg(
        long = "turn-realm",
        env = "PARLEY_TURN_REALM",
        default_value = "parley"
    )]
    pub realm: String,

    /// Lowest UDP port for relayed addresses.
    #[arg(
        long = "turn-relay-min-port",
        env = "PARLEY_TURN_RELAY_MIN_PORT",
        default_value = "49152"
    )]
    pub relay_min_port: u16,

    /// Highest UDP port for relayed addresses.
    #[arg(
        long = "turn-relay-max-port",
        env = "PARLEY_TURN_RELAY_MAX_PORT",
        default_value = "65535"
    )]
    pub relay_max_port: u16,

    /// Relay allocations one account may hold at once (one per device and
    /// call, plus ICE restarts).
    #[arg(
        long = "turn-user-quota",
        env = "PARLEY_TURN_USER_QUOTA",
        default_value = "10"
    )]
    pub user_quota: u32,

    /// Relay allocations the whole server may hold at once.
    #[arg(
        long = "turn-total-quota",
        env = "PARLEY_TURN_TOTAL_QUOTA",
        default_value = "1000"
    )]
    pub total_quota: u32,

    /// Seconds a TURN credential stays valid after it is handed out.
    #[arg(
        long = "turn-credential-ttl",
        env = "PARLEY_TURN_CREDENTIAL_TTL",
        default_value = "21600"
    )]
    pub credential_ttl_secs: u64,
}

impl TurnConfig {
    /// No relay; the other settings at their defaults.
    pub fn off() -> Self {
        Self {
            port: 0,
            listen_ip: None,
            public_ip: None,
            host: None,
            secret: None,
            realm: "parley".into(),
            relay_min_port: 49152,
            relay_max_port: 65535,
            user_quota: 10,
            total_quota: 1000,
            credential_ttl_secs: 21600,
        }
    }
}

impl Config {
    /// Threads that check passwords: as configured, else half the cores.
    pub fn password_threads(&self) -> usize {
        self.password_threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(2))
        })
    }

    /// Settings for tests: generous limits, no static files.
    pub fn for_tests(database_url: impl Into<String>) -> Self {
        let generous = NonZeroU32::MIN.saturating_add(9_999);
        Self {
            bind: "127.0.0.1:0".into(),
            database_url: database_url.into(),
            create_database: false,
            static_dir: PathBuf::from("/nonexistent"),
            auth_ip_per_minute: generous,
            auth_handle_per_minute: generous,
            lookup_per_minute: generous,
            photo_changes_per_minute: generous,
            block_changes_per_minute: generous,
            group_changes_per_minute: generous,
            password_threads: None,
            password_queue: 32,
            device_idle_days: 90,
            unauthenticated_per_ip: NonZeroUsize::MIN.saturating_add(255),
            db_pool: 4,
            ack_window_ms: 50,
            retention_days: 30,
            queue_max_messages: 10_000,
            queue_max_mib: 100,
            stranger_max_queued: 10_000,
            sends_per_second: NonZeroU32::MIN.saturating_add(99_999),
            stranger_burst: generous,
            workers: 1,
            turn: TurnConfig::off(),
            push: PushConfig {
                changes_per_minute: generous,
                fetches_per_minute: generous,
                ..PushConfig::defaults()
            },
            blobs: BlobConfig {
                uploads_per_minute: generous,
                chunks_per_minute: generous,
                // Blob ids are random: tests can share one directory.
                ..BlobConfig::defaults(
                    std::env::temp_dir()
                        .join("parley-test-blobs")
                        .to_string_lossy(),
                )
            },
            nats_url: None,
            trusted_proxies: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_is_off_by_default_and_off_matches_the_flag_defaults() {
        let parsed = Config::try_parse_from(["parley-server", "--database-url", "postgres://x"]);
        let Ok(config) = parsed else {
            panic!("defaults do not parse: {parsed:?}");
        };
        // Environment variables could change what the flags default to.
        if std::env::vars().all(|(k, _)| !k.starts_with("PARLEY_TURN_")) {
            assert_eq!(config.turn, TurnConfig::off());
        }
        if std::env::vars().all(|(k, _)| {
            !k.starts_with("PARLEY_PUSH")
                && !k.contains("NOTIFICATION")
                && !k.starts_with("PARLEY_VAPID")
        }) {
            assert_eq!(config.push, PushConfig::defaults());
        }
    }
}
