//! The `classhub` command line as a technician uses it.

use std::process::Command;

fn classhub(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_classhub")).args(args).output().expect("classhub runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn device_add_prints_a_new_id_and_key_and_refuses_a_bad_room() {
    let data = std::env::temp_dir().join(format!("classhub-cli-{}", std::process::id()));
    let data = data.to_string_lossy().into_owned();
    let (ok, out, _) = classhub(&["device", "add", "--room", "b-204", "--student", "Anna", "--data", &data]);
    assert!(ok);
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words[0], "device");
    assert!(words[1].starts_with("c-"), "{out}");
    assert_eq!(words[2], "key");
    assert!(firmware::protocol::DeviceKey::parse(words[3]).is_ok(), "{out}");
    assert_eq!(&words[4..], ["room", "b-204"]);

    let (ok, _, err) = classhub(&["device", "add", "--room", "b 204", "--data", &data]);
    assert!(!ok);
    assert!(err.starts_with("classhub: --room \"b 204\""), "one clear line: {err}");
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn the_default_config_prints_as_toml() {
    let (ok, out, _) = classhub(&["print-default-config"]);
    assert!(ok);
    assert!(out.contains("[mqtt]") && out.contains("listen = \"0.0.0.0:1883\""), "{out}");
}
