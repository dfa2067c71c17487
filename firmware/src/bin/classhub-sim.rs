//! `classhub-sim`: a class of virtual clickers against any MQTT broker, for trying classhub by hand.

use std::process::ExitCode;
use std::time::Duration;

use firmware::State;
use firmware::protocol::RoomCode;
use firmware::sim::{BrokerAddr, Class, ClassConfig, Plan};

const USAGE: &str = "\
usage: classhub-sim [--broker mqtt://HOST:PORT] [--room ROOM] [--clickers N] [--seed SEED]
                    [--plan PLAN] [--jitter-ms MS] [--wait-ms MS] [--print-keys] [--pair CODE]

  --broker     the broker (default mqtt://127.0.0.1:1883)
  --room       the room code (default demo)
  --clickers   how many clickers (default 28)
  --seed       keys are derived from this seed, as the hub's demo does (default demo)
  --plan       everyone:B | share:80:B | counts:B=23,C=5 | random | change:B:C | checkin
               (default random; presses need an open question on classhub/v1/ROOM/question)
  --jitter-ms  spread the presses over this many milliseconds (default 2000)
  --wait-ms    wait this long for acks before reporting (default 10000)
  --print-keys print each clicker's device id and key, to register them with a hub
  --pair       pair the clickers first, one after another, by typing CODE (the seven letters the
               hub's projector shows while a pairing window is open), instead of using --seed keys";

struct Args {
    broker: BrokerAddr,
    room: RoomCode,
    clickers: usize,
    seed: String,
    plan: Plan,
    jitter_ms: u64,
    wait_ms: u64,
    print_keys: bool,
    pair: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        broker: BrokerAddr::parse("mqtt://127.0.0.1:1883")?,
        room: RoomCode::parse("demo").map_err(|e| e.to_string())?,
        clickers: 28,
        seed: "demo".into(),
        plan: Plan::Random,
        jitter_ms: 2_000,
        wait_ms: 10_000,
        print_keys: false,
        pair: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--broker" => a.broker = BrokerAddr::parse(&value()?)?,
            "--room" => a.room = RoomCode::parse(&value()?).map_err(|e| format!("--room: {e}"))?,
            "--clickers" => a.clickers = value()?.parse().map_err(|_| "--clickers takes a number")?,
            "--seed" => a.seed = value()?,
            "--plan" => a.plan = Plan::parse(&value()?)?,
            "--jitter-ms" => a.jitter_ms = value()?.parse().map_err(|_| "--jitter-ms takes a number")?,
            "--wait-ms" => a.wait_ms = value()?.parse().map_err(|_| "--wait-ms takes a number")?,
            "--print-keys" => a.print_keys = true,
            "--pair" => a.pair = Some(value()?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut cfg = ClassConfig::new(args.broker.clone(), args.room.clone(), &args.seed, args.clickers);
    if let Some(code) = &args.pair {
        match firmware::sim::pair_in_order(&args.broker, &args.room, code, args.clickers, Duration::from_secs(10)).await
        {
            Ok(ids) => {
                println!("{} clickers paired in room {}", ids.len(), args.room);
                cfg.identities = ids;
            }
            Err((i, e)) => {
                eprintln!("clicker {} did not pair: {e}", i + 1);
                return ExitCode::FAILURE;
            }
        }
    }
    if args.print_keys {
        for id in &cfg.identities {
            println!("{} {}", id.device, id.key.to_hex());
        }
    }
    let class = Class::start(cfg);
    if let Err(e) = class.wait_until(|s| s.online(), Duration::from_secs(10)).await {
        eprintln!("not all clickers reached {}: {e}", args.broker);
        return ExitCode::FAILURE;
    }
    // The retained question arrives right after the subscription.
    let _ = class.wait_until(|s| s.question.is_some(), Duration::from_millis(500)).await;
    class.play(&args.plan, args.jitter_ms, 1).await;
    let settled = |s: &firmware::sim::Snapshot| s.waiting == 0;
    let _ = class.wait_until(settled, Duration::from_millis(args.wait_ms)).await;

    let mut by_state: Vec<(String, usize)> = Vec::new();
    for s in class.snapshots() {
        let name = format!("{:?}", s.state);
        match by_state.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => by_state.push((name, 1)),
        }
    }
    by_state.sort();
    let summary: Vec<String> = by_state.iter().map(|(n, c)| format!("{n}={c}")).collect();
    println!("{} clickers in room {}: {}", args.clickers, args.room, summary.join(" "));
    let all_stored = class.snapshots().iter().all(|s| s.state == State::Stored);
    if all_stored { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
