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

const ORGS: &str = "\u{feff}sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\r\ns1,,,\"Het Baken, Noord\",school,,\r\n";
const COURSES: &str = "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes\nc1,,,,Wiskunde,WI,,s1,,\n";
const CLASSES: &str = "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\nk1,,,3A wiskunde,,c1,3A-WI,scheduled,B-204,s1,,,,\n";
const USERS: &str = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n\
    u1,,,true,s1,student,anna,,Anna,de Vries,,1001,anna@school.nl,,,,,\n\
    \n\
    u2,,,true,s1,pupil,bram,,Bram,Jansen,,1002,,,,,,\n";
const ENROLLMENTS: &str = "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\ne1,,,k1,s1,u1,student,false,,\n";

#[test]
fn roster_import_loads_a_folder_or_a_zip_reports_broken_rows_and_is_idempotent() {
    let base = std::env::temp_dir().join(format!("classhub-cli-roster-{}", std::process::id()));
    let (folder, data) = (base.join("bundle"), base.join("data"));
    std::fs::create_dir_all(&folder).unwrap();
    let files = [
        ("orgs.csv", ORGS),
        ("courses.csv", COURSES),
        ("classes.csv", CLASSES),
        ("users.csv", USERS),
        ("enrollments.csv", ENROLLMENTS),
    ];
    for (name, text) in files {
        std::fs::write(folder.join(name), text).unwrap();
    }
    let data_arg = data.to_string_lossy().into_owned();
    let (ok, out, err) = classhub(&["roster", "import", &folder.to_string_lossy(), "--data", &data_arg]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "roster: 5 added, 0 updated, 0 removed, 0 unchanged, 1 refused");
    assert!(err.contains("refused: users.csv line 4: role \"pupil\" is not a OneRoster role"), "{err}");

    // The same bundle as a zip, its files in a subfolder: nothing changes.
    let zip_path = base.join("export.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, text) in files {
        zip.start_file(format!("oneroster/{name}"), options).unwrap();
        std::io::Write::write_all(&mut zip, text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    let (ok, out, err) = classhub(&["roster", "import", &zip_path.to_string_lossy(), "--data", &data_arg]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "roster: 0 added, 0 updated, 0 removed, 5 unchanged, 1 refused");

    let (ok, _, err) =
        classhub(&["roster", "import", &base.join("nothing.txt").to_string_lossy(), "--data", &data_arg]);
    assert!(!ok && err.contains("not a folder or a .zip"), "{err}");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn activity_import_reads_moodle_and_canvas_downloads_and_is_idempotent() {
    let base = std::env::temp_dir().join(format!("classhub-cli-activity-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    let data = base.join("data").to_string_lossy().into_owned();
    let moodle = base.join("logs_wiskunde_3a.csv");
    std::fs::write(
        &moodle,
        "\u{feff}Time,User full name,Affected user,Event context,Component,Event name,Description,Origin,IP address\r\n\
         \"20/11/26, 10:15\",Anna de Vries,-,\"Quiz: Toets 3, verbanden\",Quiz,Quiz attempt submitted,submitted,web,10.0.0.12\r\n\
         \"20-11-2026 10:20\",Bram Jansen,-,Course: Wiskunde 3A,System,Course viewed,viewed,web,10.0.0.13\r\n\
         gisteren,Bram Jansen,-,Course: Wiskunde 3A,System,Course viewed,viewed,web,10.0.0.13\r\n",
    )
    .unwrap();
    let path = moodle.to_string_lossy().into_owned();
    let (ok, out, err) = classhub(&["activity", "import", &path, "--from", "moodle", "--data", &data]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "activity: 2 added, 0 updated, 0 unchanged, 1 refused");
    assert!(err.contains("refused: logs_wiskunde_3a.csv line 4: Time \"gisteren\" is not a date and time"), "{err}");
    let (_, out, _) = classhub(&["activity", "import", &path, "--from", "moodle", "--data", &data]);
    assert_eq!(out.trim(), "activity: 0 added, 0 updated, 2 unchanged, 1 refused");

    // Canvas reports are cumulative: the next download moves a row on instead of adding one.
    let canvas = base.join("access_report.csv");
    let report = |views: u32| {
        format!(
            "User ID,Full Name,Sortable Name,Category,Class,Title,Views,Last Access,First Access,Action\n\
             4711,Anna de Vries,\"Vries, Anna de\",Quizzes,quiz,Toets 3,{views},2026-11-2{views}T10:15:00+01:00,2026-11-18T08:00:00+01:00,participate\n"
        )
    };
    std::fs::write(&canvas, report(4)).unwrap();
    let cpath = canvas.to_string_lossy().into_owned();
    let (_, out, _) = classhub(&["activity", "import", &cpath, "--from", "canvas", "--data", &data]);
    assert_eq!(out.trim(), "activity: 1 added, 0 updated, 0 unchanged, 0 refused");
    std::fs::write(&canvas, report(6)).unwrap();
    let (_, out, _) = classhub(&["activity", "import", &cpath, "--from", "canvas", "--data", &data]);
    assert_eq!(out.trim(), "activity: 0 added, 1 updated, 0 unchanged, 0 refused");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = hub::store::Store::open(std::path::Path::new(&data)).await.unwrap();
        let identities = store.online_identities().await.unwrap();
        assert_eq!(
            identities,
            [
                ("canvas:4711|Anna de Vries".to_owned(), 6),
                ("name:Anna de Vries".to_owned(), 1),
                ("name:Bram Jansen".to_owned(), 1)
            ]
        );
        store.close().await;
    });
    let (ok, _, err) = classhub(&["activity", "import", &path, "--from", "blackboard", "--data", &data]);
    assert!(!ok && err.contains("moodle or canvas"), "{err}");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_student_is_exported_whole_and_then_erased_from_every_table() {
    let base = std::env::temp_dir().join(format!("classhub-cli-erase-{}", std::process::id()));
    let (folder, data) = (base.join("roster"), base.join("data"));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("orgs.csv"), "sourcedId,name,type\ns1,Het Baken,school\n").unwrap();
    std::fs::write(folder.join("classes.csv"), "sourcedId,title,courseSourcedId,schoolSourcedId\nk1,3A,c1,s1\n")
        .unwrap();
    std::fs::write(folder.join("courses.csv"), "sourcedId,title,orgSourcedId\nc1,Wiskunde,s1\n").unwrap();
    std::fs::write(
        folder.join("users.csv"),
        "sourcedId,role,username,givenName,familyName,email\n\
         stud-7781,student,avries7781,Annelies,van Vriesland,annelies@school.nl\n\
         stud-7782,student,bjansen7782,Bram,Jansen,\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("enrollments.csv"),
        "sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role\ne1,k1,s1,stud-7781,student\ne2,k1,s1,stud-7782,student\n",
    )
    .unwrap();
    let data_arg = data.to_string_lossy().into_owned();
    assert!(classhub(&["roster", "import", &folder.to_string_lossy(), "--data", &data_arg]).0);
    let (ok, out, _) =
        classhub(&["device", "add", "--room", "b-204", "--student", "Annelies van Vriesland", "--data", &data_arg]);
    assert!(ok);
    let device = out.split_whitespace().nth(1).unwrap().to_owned();
    let logs = base.join("logs.csv");
    std::fs::write(
        &logs,
        "Time,User full name,Event context,Event name\n\"20/11/26, 10:15\",Annelies van Vriesland,Course: Wiskunde,Course viewed\n\
         \"20/11/26, 10:16\",Bram Jansen,Course: Wiskunde,Course viewed\n",
    )
    .unwrap();
    assert!(classhub(&["activity", "import", &logs.to_string_lossy(), "--from", "moodle", "--data", &data_arg]).0);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // An answer and a check-in from her clicker, an attendance change, a note and a statement.
        let store = hub::store::Store::open(&data).await.unwrap();
        let room = firmware::protocol::RoomCode::parse("b-204").unwrap();
        let session = store.start_session(&room, "3A", 1_000, 600_000).await.unwrap();
        let spec = firmware::protocol::QuestionSpec::new(firmware::protocol::QuestionKind::Single, 4).unwrap();
        let q = store.open_question(session, spec, None, None, 1_000).await.unwrap();
        let dev = firmware::protocol::DeviceId::parse(&device).unwrap();
        let records = [
            hub::store::Record::Press { device: dev.clone(), seq: firmware::protocol::Seq(1), question: q, answer: firmware::protocol::Choices::parse("B").unwrap(), at_ms: 2_000 },
            hub::store::Record::CheckIn { device: dev, seq: firmware::protocol::Seq(2), session: Some(session), at_ms: 2_100 },
        ];
        store.commit(&records, &[]).await.unwrap();
        store.override_attendance(session, "Annelies van Vriesland", hub::classroom::attendance::Mark::Late, "docent", 3_000).await.unwrap();
        store.set_no_online_access("Annelies van Vriesland", true, "docent", 3_000).await.unwrap();
        let statement = serde_json::json!({ "actor": { "mbox": "mailto:annelies@school.nl", "name": "Annelies van Vriesland" },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/completed" }, "object": { "id": "https://lms.school.nl/q/1" } });
        store.keep_statements("lms", &[hub::store::NewStatement { id: hub::blend::xapi::new_uuid(), json: statement }], 4_000).await.unwrap();
        store.close().await;
    });

    let (ok, out, err) = classhub(&["student", "export", "stud-7781", "--data", &data_arg]);
    assert!(ok, "{err}");
    let export: serde_json::Value = serde_json::from_str(&out).unwrap();
    for (section, n) in [
        ("roster", 1),
        ("enrollments", 1),
        ("clickers", 1),
        ("answers", 1),
        ("check_ins", 1),
        ("attendance_changes", 1),
        ("notes", 1),
        ("online_activity", 1),
        ("xapi_statements", 1),
    ] {
        assert_eq!(export[section].as_array().map(Vec::len), Some(n), "{section}: {out}");
    }
    assert!(!out.contains("Bram"), "nobody else's data");

    let (ok, _, err) = classhub(&["student", "erase", "stud-7781", "--data", &data_arg]);
    assert!(!ok && err.contains("--yes"), "{err}");
    let (ok, out, err) = classhub(&["student", "erase", "stud-7781", "--yes", "--data", &data_arg]);
    assert!(ok, "{err}");
    assert!(out.contains("erased stud-7781"), "{out}");
    rt.block_on(async {
        let store = hub::store::Store::open(&data).await.unwrap();
        for needle in ["stud-7781", "Annelies", "Vriesland", "avries7781", "annelies@school.nl"] {
            assert_eq!(
                store.find_anywhere(needle).await.unwrap(),
                Vec::<(String, String)>::new(),
                "{needle} is gone everywhere"
            );
        }
        assert!(!store.find_anywhere("Bram Jansen").await.unwrap().is_empty(), "the others stay");
        store.close().await;
    });
    // Not in a free page of the file, nor in the log.
    for file in ["classhub.db", "classhub.db-wal"] {
        let bytes = std::fs::read(data.join(file)).unwrap_or_default();
        let hay = String::from_utf8_lossy(&bytes);
        assert!(!hay.contains("Vriesland") && !hay.contains("annelies@school.nl"), "{file} still holds her");
    }
    let (ok, _, err) = classhub(&["student", "export", "stud-7781", "--data", &data_arg]);
    assert!(!ok && err.contains("no student"), "{err}");
    let _ = std::fs::remove_dir_all(&base);
}

/// `classhub pair` opens a window in the store of a running hub, prints the code, follows the window
/// while a clicker pairs, and ends when the window closes.
#[test]
fn pair_opens_a_window_the_running_hub_answers_and_reports_the_clicker_paired() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let data = std::env::temp_dir().join(format!("classhub-cli-pair-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut settings = hub::config::Settings::default();
    settings.mqtt.listen = "127.0.0.1:0".parse().unwrap();
    settings.http.listen = "127.0.0.1:0".parse().unwrap();
    settings.data_dir = data.clone();
    let app = rt.block_on(hub::app::App::build(&settings)).expect("the hub builds");
    let broker = firmware::sim::BrokerAddr::parse(&app.mqtt().to_string()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let hub = rt.spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let mut child = Command::new(env!("CARGO_BIN_EXE_classhub"))
        .args(["pair", "--room", "b-204", "--student", "Anna de Vries", "--seconds", "60", "--data"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("classhub pair starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.starts_with("pairing in b-204 for 60 s: type  "), "{first}");
    let code: String = first.split("type  ").nth(1).unwrap().split("  on").next().unwrap().split(' ').collect();
    assert_eq!(code.len(), 7, "{first}");

    let room = firmware::protocol::RoomCode::parse("b-204").unwrap();
    let paired = rt.block_on(firmware::sim::pair_one(&broker, &room, &code, std::time::Duration::from_secs(10)));
    let identity = paired.expect("the hub took up the CLI's window and paired the clicker");
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(status.success());
    assert!(rest.contains("pairing closed (done): 1 paired, 0 wrong codes"), "{rest}");
    rt.block_on(async {
        let store = hub::store::Store::open(&data).await.unwrap();
        let fleet = store.fleet(Some("b-204")).await.unwrap();
        assert_eq!(fleet.len(), 1);
        assert_eq!(
            (fleet[0].id.as_str(), fleet[0].student.as_deref()),
            (identity.device.as_str(), Some("Anna de Vries"))
        );
        store.close().await;
    });

    let bad = classhub(&["pair", "--room", "b-204", "--seconds", "999", "--data", &data.to_string_lossy()]);
    assert!(!bad.0);
    assert!(bad.2.contains("1 to 254 seconds"), "{}", bad.2);
    let _ = stop.send(());
    rt.block_on(hub).unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn device_card_registers_a_school_card_by_a_hash_and_refuses_a_bad_number() {
    let data = std::env::temp_dir().join(format!("classhub-cli-card-{}", std::process::id()));
    let data = data.to_string_lossy().into_owned();
    let (ok, out, err) =
        classhub(&["device", "card", "--uid", "04:A2:2B:1A", "--student", "Anna de Vries", "--data", &data]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "card registered for Anna de Vries");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = hub::store::Store::open(std::path::Path::new(&data)).await.unwrap();
        assert_eq!(store.card_student(&[0x04, 0xa2, 0x2b, 0x1a]).await.unwrap().as_deref(), Some("Anna de Vries"));
        store.close().await;
    });
    let (ok, _, err) = classhub(&["device", "card", "--uid", "04a2", "--student", "Anna", "--data", &data]);
    assert!(!ok);
    assert!(err.contains("expected 4, 7 or 10 bytes in hex"), "{err}");
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn the_pi_settings_in_the_docs_load() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/pi/classhub.toml");
    let s = hub::config::Settings::load(Some(std::path::Path::new(path)), []).expect("the documented settings load");
    assert_eq!((s.pi.room.as_str(), s.pi.button_pin, s.pi.led_pin, s.pi.nfc), ("b-204", 17, 27, true));
    let unit = include_str!("../../docs/pi/classhub.service");
    assert!(unit.contains("ExecStart=/usr/local/bin/classhub serve --config /etc/classhub/classhub.toml"));
    assert!(unit.contains("KillSignal=SIGTERM"));
}

/// `classhub firmware keygen`, `sign` and `rollout`: the key's secret stays in its file, the signed
/// image verifies under the printed public key, and a rollout is stored for the running hub.
#[test]
fn firmware_keygen_sign_and_rollout_as_a_technician_runs_them() {
    let dir = std::env::temp_dir().join(format!("classhub-cli-fw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (ok, out, err) = classhub(&["firmware", "keygen", "--out", &path("fleet.key")]);
    assert!(ok, "{err}");
    let public = out.trim().strip_prefix("public key ").expect("prints the public key").to_owned();
    assert_eq!(public.len(), 64);
    let (again, _, err) = classhub(&["firmware", "keygen", "--out", &path("fleet.key")]);
    assert!(!again && err.contains("not overwriting a key"), "{err}");

    std::fs::write(path("build.bin"), b"the new firmware build").unwrap();
    let (ok, out, err) = classhub(&[
        "firmware",
        "sign",
        &path("build.bin"),
        "--version",
        "0.2.0",
        "--key",
        &path("fleet.key"),
        "--out",
        &path("build.chfw"),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("version 0.2.0 sha256 "), "{out}");
    let signed = std::fs::read(path("build.chfw")).unwrap();
    let header = firmware::ota::image::Header::parse(signed[..128].try_into().unwrap()).unwrap();
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&public[2 * i..2 * i + 2], 16).unwrap();
    }
    assert_eq!(header.verify(&key), Ok(()), "signed under the printed key");
    assert_eq!(hub::store::check_image(&signed), Ok(header));

    let data = path("data");
    let (ok, out, err) =
        classhub(&["firmware", "rollout", &path("build.chfw"), "--room", "b-204", "--no-wait", "--data", &data]);
    assert!(ok, "{err}");
    assert!(out.starts_with("rollout 1: 0.2.0 to b-204, 2 first"), "{out}");
    // Followed to its end against a running hub (a room with no clickers is done at once).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut settings = hub::config::Settings::default();
    settings.mqtt.listen = "127.0.0.1:0".parse().unwrap();
    settings.http.listen = "127.0.0.1:0".parse().unwrap();
    settings.data_dir = data.clone().into();
    let app = rt.block_on(hub::app::App::build(&settings)).expect("the hub builds");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = rt.spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let (ok, out, err) =
        classhub(&["firmware", "rollout", &path("build.chfw"), "--room", "empty-room", "--data", &data]);
    assert!(ok, "{err}");
    assert!(out.contains("rollout 2 done: 0 of 0 clickers run 0.2.0"), "{out}");
    let _ = stop.send(());
    rt.block_on(running).unwrap().unwrap();

    let (ok, _, err) =
        classhub(&["firmware", "rollout", &path("build.bin"), "--room", "b-204", "--no-wait", "--data", &data]);
    assert!(!ok && err.contains("too short for a firmware image"), "an unsigned build is refused: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}
