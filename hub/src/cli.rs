//! The `classhub` command line: serve, demo, bench, broker, device, print-default-config.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::app::App;
use crate::config::Settings;
use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "classhub", version, about = "The classhub hub: classroom answers and attendance, on the hub alone")]
pub struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the hub.
    Serve {
        /// A TOML settings file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Use this external broker (mqtt://host:port) instead of the embedded one.
        #[arg(long)]
        mqtt_url: Option<String>,
        /// The embedded broker's listen address.
        #[arg(long)]
        mqtt_listen: Option<SocketAddr>,
        /// The web server's listen address.
        #[arg(long)]
        http: Option<SocketAddr>,
        /// Where the database lives.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// A hub with a simulated class and a lesson that keeps going: the newcomer's first run.
    Demo {
        /// How many simulated clickers.
        #[arg(long, default_value_t = 28)]
        clickers: usize,
        /// The web server's listen address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        /// Where the database lives (default: a fresh folder in the system's temp dir).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Print the default settings as TOML.
    PrintDefaultConfig,
    /// Run the embedded MQTT broker alone (what the broker costs without the hub).
    Broker {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:1883")]
        listen: SocketAddr,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCmd,
    },
    /// Clickers.
    Device {
        #[command(subcommand)]
        command: DeviceCmd,
    },
    /// Open a pairing window in a room and follow it: the code to type on each clicker, then how
    /// many are paired. The running hub answers the clickers; ctrl-c closes the window early.
    Pair {
        /// The room.
        #[arg(long)]
        room: String,
        /// Pair a class in roster order (its sourcedId): each clicker goes to the next student.
        #[arg(long, conflicts_with_all = ["student", "loaner"])]
        class: Option<String>,
        /// Pair one clicker to this student.
        #[arg(long, conflicts_with = "loaner")]
        student: Option<String>,
        /// With --student: the broken clicker the new one replaces (retired, history kept).
        #[arg(long, requires = "student")]
        replaces: Option<String>,
        /// Pair one loaner for this student, for one lesson.
        #[arg(long)]
        loaner: Option<String>,
        /// How long the window stays open (1 to 254 seconds).
        #[arg(long, default_value_t = crate::fleet::pairing::DEFAULT_SECONDS)]
        seconds: u32,
        /// A TOML settings file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the database lives.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Dashboard accounts.
    User {
        #[command(subcommand)]
        command: UserCmd,
    },
    /// Sources of online activity that send xAPI statements.
    Source {
        #[command(subcommand)]
        command: SourceCmd,
    },
    /// Firmware for the clickers: make the signing key, sign an image, roll it out to a room.
    Firmware {
        #[command(subcommand)]
        command: FirmwareCmd,
    },
    /// One student's data: export it all, or erase it everywhere.
    Student {
        #[command(subcommand)]
        command: StudentCmd,
    },
    /// Online activity downloaded from the LMS.
    Activity {
        #[command(subcommand)]
        command: ActivityCmd,
    },
    /// The school's roster (IMS OneRoster 1.1 CSV).
    Roster {
        #[command(subcommand)]
        command: RosterCmd,
    },
}

#[derive(Subcommand)]
enum SourceCmd {
    /// Add a source (an LMS, an LRS): prints the HTTP Basic key and secret it signs in with.
    Add {
        /// Its name, e.g. moodle.
        name: String,
        /// A TOML settings file (for the data directory).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the database lives.
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum FirmwareCmd {
    /// Make the fleet's signing key: the secret goes to --out (keep it off the hub), the public key
    /// is printed (build it into the clicker firmware).
    Keygen {
        /// Where to write the secret key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a firmware payload: writes the image (header and payload) the clickers accept.
    Sign {
        /// The firmware payload.
        payload: PathBuf,
        /// Its version, e.g. 0.2.0.
        #[arg(long)]
        version: String,
        /// The secret key from `firmware keygen`.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signed image.
        #[arg(long)]
        out: PathBuf,
    },
    /// Roll a signed image out to a room and follow it: a few clickers first, then the rest; never
    /// during a lesson; halted when too many fail. The running hub does the sending.
    Rollout {
        /// The signed image.
        image: PathBuf,
        /// The room.
        #[arg(long)]
        room: String,
        /// Clickers in the first stage.
        #[arg(long, default_value_t = 2)]
        first: usize,
        /// Halt when more than this percentage of a stage fails.
        #[arg(long, default_value_t = 20)]
        max_failures: u8,
        /// Return at once instead of following the rollout.
        #[arg(long)]
        no_wait: bool,
        /// A TOML settings file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the database lives.
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum StudentCmd {
    /// Print everything held about a roster student (by sourcedId) as JSON.
    Export {
        /// The roster sourcedId.
        id: String,
        /// A TOML settings file (for the data directory).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the database lives.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Remove a roster student (by sourcedId) everywhere. Cannot be undone.
    Erase {
        /// The roster sourcedId.
        id: String,
        /// Confirm.
        #[arg(long)]
        yes: bool,
        /// A TOML settings file (for the data directory).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the database lives.
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ActivityCmd {
    /// Import a Moodle course log or a Canvas access report (CSV); importing it again adds nothing.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// `moodle` (course Logs download) or `canvas` (course Access Report).
        #[arg(long)]
        from: String,
        /// A TOML settings file (for the data directory and the time zone).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the database lives.
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RosterCmd {
    /// Import a OneRoster 1.1 CSV bundle (a folder or a .zip); importing it again changes nothing.
    Import {
        /// The folder or zip.
        path: PathBuf,
        /// A TOML settings file (for the data directory).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the database lives.
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Make an account: prints its one-time password.
    Add {
        /// The user name (a-z, 0-9, '.', '_', '-').
        name: String,
        /// teacher, technician or admin.
        #[arg(long, default_value = "teacher")]
        role: String,
        /// A TOML settings file (for the data directory).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the database lives.
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// xAPI: concurrent clients post batches of statements of about 1.8 KB.
    Xapi {
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Statements per request.
        #[arg(long, default_value_t = 5)]
        batch: usize,
        /// Statements in all.
        #[arg(long, default_value_t = 20_000)]
        statements: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The live views: V viewers keep the live stream open while N clickers answer.
    Live {
        /// Open live streams.
        #[arg(long, default_value_t = 50)]
        viewers: usize,
        /// How many clickers.
        #[arg(long, default_value_t = 1000)]
        clickers: usize,
        /// Spread the presses evenly over this many ms (0: all at once).
        #[arg(long, default_value_t = 1000)]
        spread_ms: u64,
        /// The hub's shortest time between two updates of one stream (`[http] live_every_ms`).
        #[arg(long, default_value_t = crate::config::HttpSettings::default().live_every_ms)]
        live_every_ms: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The lecture-hall burst: N clickers press once, against the hub and against a bare echo.
    Burst {
        /// How many clickers.
        #[arg(long, default_value_t = 1000)]
        clickers: usize,
        /// Spread the presses evenly over this many ms (0: all at once).
        #[arg(long, default_value_t = 0)]
        spread_ms: u64,
        /// embedded, mosquitto, or mqtt://HOST:PORT.
        #[arg(long, default_value = "embedded")]
        broker: crate::bench::BenchBroker,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DeviceCmd {
    /// Register a clicker: prints its new device id and key, to provision it with.
    Add {
        /// Its room.
        #[arg(long)]
        room: String,
        /// Its student.
        #[arg(long)]
        student: Option<String>,
        /// A TOML settings file (for the data directory).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the database lives.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Register a student's school card for check-in at the hub's reader (only a keyed hash of its
    /// number is kept).
    Card {
        /// The card's UID in hex, as a reader or the card's print shows it (e.g. 04:A2:2B:1A).
        #[arg(long)]
        uid: String,
        /// Its student.
        #[arg(long)]
        student: String,
        /// A TOML settings file (for the data directory).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the database lives.
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// On the first start, says once how to log in (on stderr: stdout keeps the one ready line).
fn announce_first_admin(app: &App) {
    if let Some(password) = app.first_admin_password() {
        eprintln!(
            "classhub: first start: log in at http://{}/login as \"admin\" with password \"{password}\" \
             (shown only now; add accounts with `classhub user add NAME --role teacher`)",
            app.http_addr()
        );
    }
}

/// Runs one command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let env = std::env::vars().filter(|(k, _)| k.starts_with("CLASSHUB_"));
    match cli.command {
        Cmd::PrintDefaultConfig => print!("{}", Settings::default_toml()),
        Cmd::Broker { listen } => {
            let broker = crate::broker::EmbeddedBroker::start(listen, crate::broker::BrokerTuning::default())?;
            println!("classhub ready mqtt=mqtt://{}", broker.local_addr());
            shutdown_signal().await;
            broker.shutdown();
        }
        Cmd::Bench { command: BenchCmd::Xapi { clients, batch, statements, json } } => {
            let exe = std::env::current_exe()?;
            let report = crate::bench::xapi::xapi(&exe, clients.max(1), batch.max(1), statements).await?;
            if json { println!("{}", serde_json::to_string(&report)?) } else { println!("{report}") }
        }
        Cmd::Bench { command: BenchCmd::Live { viewers, clickers, spread_ms, live_every_ms, json } } => {
            let exe = std::env::current_exe()?;
            let report = crate::bench::live::live(&exe, viewers, clickers, spread_ms, live_every_ms).await?;
            if json { println!("{}", serde_json::to_string(&report)?) } else { println!("{report}") }
        }
        Cmd::Bench { command: BenchCmd::Burst { clickers, spread_ms, broker, json } } => {
            let exe = std::env::current_exe()?;
            let report = crate::bench::burst(&exe, clickers, spread_ms, broker).await?;
            if json { println!("{}", serde_json::to_string(&report)?) } else { println!("{report}") }
        }
        Cmd::Device { command: DeviceCmd::Add { room, student, config, data } } => {
            let s = Settings::load(config.as_deref(), env)?;
            let room = crate::protocol::RoomCode::parse(&room).map_err(|e| anyhow::anyhow!("--room {room:?}: {e}"))?;
            let store = crate::store::Store::open(&data.unwrap_or(s.data_dir)).await?;
            let device = crate::web::generate_device(room, student);
            store.add_device(&device).await?;
            store.close().await;
            println!("device {} key {} room {}", device.id, device.key.to_hex(), device.room);
        }
        Cmd::Device { command: DeviceCmd::Card { uid, student, config, data } } => {
            let s = Settings::load(config.as_deref(), env)?;
            let card = crate::fleet::nfc::CardUid::parse_hex(&uid)
                .ok_or_else(|| anyhow::anyhow!("--uid {uid:?}: expected 4, 7 or 10 bytes in hex"))?;
            anyhow::ensure!(!student.trim().is_empty(), "--student is empty");
            let store = crate::store::Store::open(&data.unwrap_or(s.data_dir)).await?;
            store.add_card(&card.0, student.trim(), crate::store::now_ms()).await?;
            store.close().await;
            println!("card registered for {}", student.trim());
        }
        Cmd::Firmware { command: FirmwareCmd::Keygen { out } } => crate::fleet::release::keygen(&out)?,
        Cmd::Firmware { command: FirmwareCmd::Sign { payload, version, key, out } } => {
            crate::fleet::release::sign(&payload, &version, &key, &out)?
        }
        Cmd::Firmware { command: FirmwareCmd::Rollout { image, room, first, max_failures, no_wait, config, data } } => {
            let s = Settings::load(config.as_deref(), env)?;
            let room = crate::protocol::RoomCode::parse(&room).map_err(|e| anyhow::anyhow!("--room {room:?}: {e}"))?;
            anyhow::ensure!(max_failures <= 100, "--max-failures is a percentage, 0 to 100");
            let plan = crate::fleet::rollout::Plan { first_stage: first, max_failure_pct: max_failures };
            let store = crate::store::Store::open(&data.unwrap_or(s.data_dir)).await?;
            let result = crate::fleet::release::rollout(&store, &room, &image, plan, !no_wait).await;
            store.close().await;
            result?;
        }
        Cmd::Pair { room, class, student, replaces, loaner, seconds, config, data } => {
            use crate::fleet::pairing::Mode;
            let s = Settings::load(config.as_deref(), env)?;
            let room = crate::protocol::RoomCode::parse(&room).map_err(|e| anyhow::anyhow!("--room {room:?}: {e}"))?;
            let replaces = replaces
                .map(|d| crate::protocol::DeviceId::parse(&d).map_err(|e| anyhow::anyhow!("--replaces {d:?}: {e}")))
                .transpose()?;
            let mode = match (class, student, loaner) {
                (Some(class), _, _) => Mode::ClassInOrder { class },
                (_, Some(student), _) => Mode::Student { student, replaces },
                (_, _, Some(student)) => Mode::Loaner { student },
                _ => Mode::Room,
            };
            let store = crate::store::Store::open(&data.unwrap_or(s.data_dir)).await?;
            crate::fleet::follow::pair(&store, &room, mode, seconds).await?;
            store.close().await;
        }
        Cmd::User { command: UserCmd::Add { name, role, config, data } } => {
            let s = Settings::load(config.as_deref(), env)?;
            let name = crate::auth::Username::parse(&name)?;
            let role = crate::auth::Role::parse(&role)?;
            let password = crate::auth::new_password();
            let hash = crate::auth::hash_password(&password)?;
            let store = crate::store::Store::open(&data.unwrap_or(s.data_dir)).await?;
            store.add_user(&name, role, &hash, crate::store::now_ms()).await?;
            store.close().await;
            println!("user {name} role {} password {password}", role.as_str());
        }
        Cmd::Source { command: SourceCmd::Add { name, config, data } } => {
            let s = Settings::load(config.as_deref(), env)?;
            anyhow::ensure!(
                !name.is_empty()
                    && name.len() <= 64
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                "source name {name:?}: use 1 to 64 of a-z, 0-9, '-', '_', '.'"
            );
            let store = crate::store::Store::open(&data.unwrap_or(s.data_dir)).await?;
            let (key, secret) = store.add_xapi_source(&name, crate::store::now_ms()).await?;
            store.close().await;
            println!("source {name} key {key} secret {secret}");
        }
        Cmd::Student { command: StudentCmd::Export { id, config, data } } => {
            let s = Settings::load(config.as_deref(), env)?;
            let store = crate::store::Store::open(&data.unwrap_or(s.data_dir)).await?;
            let footprint = store.footprint(&id).await?.with_context(|| format!("no student {id:?} in the roster"))?;
            let export = store.export_student(&footprint).await?;
            store.close().await;
            println!("{}", serde_json::to_string_pretty(&export)?);
        }
        Cmd::Student { command: StudentCmd::Erase { id, yes, config, data } } => {
            anyhow::ensure!(yes, "erasing {id:?} cannot be undone: add --yes");
            let s = Settings::load(config.as_deref(), env)?;
            let store = crate::store::Store::open(&data.unwrap_or(s.data_dir)).await?;
            let footprint = store.footprint(&id).await?.with_context(|| format!("no student {id:?} in the roster"))?;
            store.erase_student(&footprint).await?;
            // A running hub's readers can keep the log from emptying; each try waits for them up to
            // the busy timeout.
            let mut log_emptied = false;
            for _ in 0..3 {
                log_emptied = store.checkpoint_truncate().await?;
                if log_emptied {
                    break;
                }
            }
            store.close().await;
            if !log_emptied {
                eprintln!(
                    "classhub: {id} is erased from the database, but its write-ahead log (classhub.db-wal) \
                     still holds old copies of the erased rows, because something kept reading the \
                     database (a running hub?). The hub writes over them as it goes on; stopping the hub \
                     empties the log at once."
                );
            }
            println!(
                "erased {id}: {} clickers unassigned, {} online identities removed",
                footprint.devices.len(),
                footprint.identities.len()
            );
        }
        Cmd::Activity { command: ActivityCmd::Import { file, from, config, data } } => {
            let s = Settings::load(config.as_deref(), env)?;
            let tz = jiff::tz::TimeZone::get(&s.classroom.timezone)?;
            let name =
                file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| anyhow::anyhow!("{name} is not UTF-8 text (save it as CSV UTF-8)"))?;
            let read = match from.as_str() {
                "moodle" => crate::blend::activity::moodle_logs(&name, &text, &tz),
                "canvas" => crate::blend::activity::canvas_access(&name, &text, &tz),
                other => anyhow::bail!("--from {other:?}: moodle or canvas"),
            };
            for e in &read.errors {
                eprintln!("refused: {e}");
            }
            let store = crate::store::Store::open(&data.unwrap_or(s.data_dir)).await?;
            let counts = store.keep_online_events(&read.events).await?;
            store.close().await;
            println!(
                "activity: {} added, {} updated, {} unchanged, {} refused",
                counts.added,
                counts.updated,
                counts.unchanged,
                read.errors.len()
            );
        }
        Cmd::Roster { command: RosterCmd::Import { path, config, data } } => {
            let s = Settings::load(config.as_deref(), env)?;
            let files = crate::blend::import::read_bundle(&path)?;
            let store = crate::store::Store::open(&data.unwrap_or(s.data_dir)).await?;
            let roster = crate::blend::roster::read(&files, &store.roster_known().await?);
            for e in &roster.errors {
                eprintln!("refused: {e}");
            }
            let rows = roster.orgs.len()
                + roster.terms.len()
                + roster.courses.len()
                + roster.classes.len()
                + roster.users.len()
                + roster.enrollments.len();
            let bar = indicatif::ProgressBar::new(rows as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let counts = store.apply_roster(&roster, || bar.inc(1)).await?;
            bar.finish_and_clear();
            store.close().await;
            println!(
                "roster: {} added, {} updated, {} removed, {} unchanged, {} refused",
                counts.added,
                counts.updated,
                counts.removed,
                counts.unchanged,
                roster.errors.len()
            );
        }
        Cmd::Serve { config, mqtt_url, mqtt_listen, http, data } => {
            let mut s = Settings::load(config.as_deref(), env)?;
            s.mqtt.url = mqtt_url.or(s.mqtt.url);
            s.mqtt.listen = mqtt_listen.unwrap_or(s.mqtt.listen);
            s.http.listen = http.unwrap_or(s.http.listen);
            s.data_dir = data.unwrap_or(s.data_dir);
            crate::init_logs(&s.log);
            let app = App::build(&s).await?;
            println!("{}", app.ready_line());
            announce_first_admin(&app);
            app.run_until_stopped(shutdown_signal()).await?;
        }
        Cmd::Demo { clickers, http, data } => {
            let mut s = Settings::load(None, env)?;
            s.mqtt.listen = SocketAddr::from(([127, 0, 0, 1], 0));
            s.http.listen = http;
            s.data_dir =
                data.unwrap_or_else(|| std::env::temp_dir().join(format!("classhub-demo-{}", std::process::id())));
            crate::init_logs(&s.log);
            let store = crate::store::Store::open(&s.data_dir).await?;
            crate::demo::prepare(&store, clickers).await.context("preparing the demo class")?;
            store.close().await;
            let app = match App::build(&s).await {
                Ok(app) => app,
                Err(e) if http.port() != 0 => {
                    eprintln!("{e:#}; using a free port instead");
                    s.http.listen.set_port(0);
                    App::build(&s).await?
                }
                Err(e) => return Err(e),
            };
            let engine = app.engine();
            println!("{}", app.ready_line());
            println!("open http://{}/ (data in {})", app.http_addr(), s.data_dir.display());
            announce_first_admin(&app);
            let lesson = tokio::spawn(crate::demo::lesson(engine, app.mqtt().clone(), clickers));
            app.run_until_stopped(shutdown_signal()).await?;
            lesson.abort();
        }
    }
    Ok(())
}
