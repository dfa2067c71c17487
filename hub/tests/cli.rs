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

#[test]
fn user_add_prints_a_password_that_logs_in_and_refuses_a_taken_name_or_unknown_role() {
    let data = std::env::temp_dir().join(format!("classhub-cli-users-{}", std::process::id()));
    let data = data.to_string_lossy().into_owned();
    let (ok, out, err) = classhub(&["user", "add", "Docent.Jansen", "--role", "teacher", "--data", &data]);
    assert!(ok, "{err}");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(&words[..4], ["user", "docent.jansen", "role", "teacher"]);
    assert_eq!(words[4], "password");
    let password = words[5].to_owned();
    assert_eq!(password.len(), 16);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = hub::store::Store::open(std::path::Path::new(&data)).await.unwrap();
        let name = hub::auth::Username::parse("docent.jansen").unwrap();
        let (user, hash) = store.user_by_name(&name).await.unwrap().expect("stored");
        assert_eq!(user.role, hub::auth::Role::Teacher);
        assert!(hub::auth::verify_password(&password, &hash), "the printed password is the one stored");
        store.close().await;
    });

    let (ok, _, err) = classhub(&["user", "add", "docent.jansen", "--data", &data]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = classhub(&["user", "add", "leerling", "--role", "student", "--data", &data]);
    assert!(!ok && err.contains("unknown role"), "{err}");
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn the_first_start_makes_one_admin_and_shows_its_password_once() {
    let data = std::env::temp_dir().join(format!("classhub-cli-first-{}", std::process::id()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut s = hub::config::Settings::default();
        s.mqtt.listen = "127.0.0.1:0".parse().unwrap();
        s.http.listen = "127.0.0.1:0".parse().unwrap();
        s.data_dir = data.clone();
        let first = hub::app::App::build(&s).await.unwrap();
        let password = first.first_admin_password().expect("shown on the first start").to_owned();
        first.run_until_stopped(async {}).await.unwrap();
        let again = hub::app::App::build(&s).await.unwrap();
        assert_eq!(again.first_admin_password(), None, "never again");
        again.run_until_stopped(async {}).await.unwrap();
        let store = hub::store::Store::open(&data).await.unwrap();
        assert_eq!(store.count_users().await.unwrap(), 1);
        let (user, hash) = store.user_by_name(&hub::auth::Username::parse("admin").unwrap()).await.unwrap().unwrap();
        assert_eq!(user.role, hub::auth::Role::Admin);
        assert!(hub::auth::verify_password(&password, &hash));
        store.close().await;
    });
    let _ = std::fs::remove_dir_all(&data);
}
