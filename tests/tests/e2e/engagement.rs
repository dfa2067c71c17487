//! The blended picture through the hub: three students in a lesson, their roster entries, their
//! online activity from a Moodle log, one marked as having no internet at home — the engagement
//! export puts each in the right group.

use std::time::Duration;

use classhub_tests::{TestApp, unique_room};
use firmware::State;
use firmware::protocol::Button;
use firmware::sim::{Class, ClassConfig, Plan};
use hub::store::Device;

#[tokio::test]
async fn three_students_one_week_three_groups() {
    let app = TestApp::spawn("engagement").await;
    let room = unique_room("blend");
    let cfg = ClassConfig::new(app.mqtt.clone(), room.clone(), "blend", 3);
    for (id, student) in cfg.identities.iter().zip(["Anna de Vries", "Bram Jansen", "Cem Yilmaz"]) {
        let device = Device {
            id: id.device.clone(),
            key: id.key.clone(),
            room: room.clone(),
            student: Some(student.into()),
            newest_seq: None,
        };
        app.engine.add_device(device).await.unwrap();
    }
    let class_name = format!("3A-{}", std::process::id());
    assert_eq!(app.post_form(&format!("/rooms/{room}/session"), &format!("class_name={class_name}")).await.status, 303);
    assert_eq!(app.post_form(&format!("/rooms/{room}/question"), "kind=single&options=4").await.status, 303);
    // Anna and Bram answer; Cem's clicker stays in the bag.
    let class = Class::start(cfg);
    class.wait_until(|s| s.sees_open_question(), Duration::from_secs(10)).await.expect("online");
    class.play(&Plan::Counts(vec![(Button::B, 2)]), 200, 3).await;
    let two = |s: &firmware::sim::Snapshot| s.state == State::Stored || s.stats.sent == 0;
    class.wait_until(two, Duration::from_secs(10)).await.expect("two stored");

    let tz = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap();
    let now = jiff::Timestamp::now().to_zoned_datetime(tz.clone());
    let today = now.date();
    let stamp = |minute: i8| format!("\"{}, 08:{minute:02}\"", today.strftime("%d/%m/%y"));
    let logs = format!(
        "Time,User full name,Event context,Event name\n{},Anna de Vries,Course: Wiskunde,Course viewed\n{},Anna de Vries,Quiz: Toets 3,Quiz attempt submitted\n{},Cem Yilmaz,Course: Wiskunde,Course viewed\n",
        stamp(1),
        stamp(2),
        stamp(3)
    );
    let store = app.store().await;
    let read = hub::blend::activity::moodle_logs("logs.csv", &logs, &tz);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    store.keep_online_events(&read.events).await.unwrap();
    let roster: std::collections::BTreeMap<String, String> = [
        ("orgs.csv".to_owned(), "sourcedId,name,type\ns1,Het Baken,school\n".to_owned()),
        (
            "users.csv".to_owned(),
            "sourcedId,role,username,givenName,familyName\nu1,student,anna,Anna,de Vries\nu2,student,bram,Bram,Jansen\nu3,student,cem,Cem,Yilmaz\n".to_owned(),
        ),
    ]
    .into();
    let read = hub::blend::roster::read(&roster, &Default::default());
    store.apply_roster(&read, || {}).await.unwrap();
    store.close().await;
    assert_eq!(app.post_form("/engagement/flag", "student=Bram+Jansen&on=1").await.status, 303);

    let week = format!("{}-W{:02}", today.iso_week_date().year(), today.iso_week_date().week());
    let page = app.page(&format!("/engagement?class={class_name}&week={week}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("geen internet thuis"), "{}", page.body);
    assert!(page.body.contains("<svg class=\"scatter\""), "the in-class × online scatter");
    // Weights set to class alone: Cem, online only, drops to the bottom of the index.
    let r = app
        .post_form(
            "/engagement/weights",
            &format!("class={class_name}&attendance=50&response=50&online_days=0&online_activity=0"),
        )
        .await;
    assert_eq!(r.status, 303);
    let csv = app.page(&format!("/engagement.csv?class={class_name}&week={week}")).await;
    let cem = csv.body.lines().find(|l| l.contains("Cem")).unwrap().to_owned();
    assert_eq!(cem.split(',').nth(13), Some("0.000"), "{cem}");
    assert_eq!(
        app.post_form(
            "/engagement/weights",
            &format!("class={class_name}&attendance=0&response=0&online_days=0&online_activity=0")
        )
        .await
        .status,
        400
    );
    let weeks = app.page(&format!("/engagement/weeks?class={class_name}&week={week}")).await;
    assert_eq!(weeks.status, 200);
    assert!(weeks.body.contains("<svg class=\"heatmap\"") && weeks.body.contains("Cem Yilmaz"));
    let link = page
        .body
        .split("href=\"/engagement/student?")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let student = app.page(&format!("/engagement/student?{link}")).await;
    assert_eq!(student.status, 200);
    assert!(student.body.contains("<svg class=\"lines\""), "{}", student.body);
    let csv = app.page(&format!("/engagement.csv?class={class_name}&week={week}")).await;
    assert_eq!(csv.status, 200);
    let groups: Vec<(String, String)> = csv
        .body
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].to_owned(), f[15].to_owned())
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("Anna de Vries".to_owned(), "both".to_owned()),
            ("Bram Jansen".to_owned(), "in_class_only".to_owned()),
            ("Cem Yilmaz".to_owned(), "online_only".to_owned()),
        ],
        "{}",
        csv.body
    );
    app.stop().await;
}
