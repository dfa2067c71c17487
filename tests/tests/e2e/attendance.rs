//! Attendance through the pages: check-ins mark students present, the end of the session marks the
//! rest absent, a teacher's override is kept with who and when, and the CSV export says the same.
//! (Present against late, which needs the clock moved, is scripted in the store's own tests.)

use std::time::Duration;

use classhub_tests::{TestApp, unique_room};
use firmware::State;
use firmware::sim::{Class, Plan};

#[tokio::test]
async fn three_check_in_one_never_comes_and_the_teacher_excuses_them() {
    let app = TestApp::spawn("attendance").await;
    let room = unique_room("att");
    let cfg = app.register_class(&room, "att", 4).await;
    let base = format!("/rooms/{room}");
    let class_name = format!("3A-{}", std::process::id());
    let r = app.post_form(&format!("{base}/session"), &format!("class_name={class_name}")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let session = app.engine.live(&room).and_then(|l| l.session).expect("session runs").id;

    // Only the first three clickers are switched on; they check in.
    let mut three = cfg.clone();
    three.identities.truncate(3);
    let class = Class::start(three);
    class.wait_until(|s| s.online(), Duration::from_secs(10)).await.expect("online");
    class.play(&Plan::CheckIn, 200, 3).await;
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(10)).await.expect("check-ins stored");

    let page = app.page(&format!("/sessions/{session}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("<strong>aanwezig</strong>").count(), 3, "{}", page.body);
    assert!(page.body.contains("<strong>nog niet gezien</strong>"), "sim-0004 is not absent while the lesson runs");
    assert!(
        app.page(&base).await.body.contains(&format!("href=\"/sessions/{session}\"")),
        "the teacher page links to it"
    );

    let end = app.post_form(&format!("{base}/session/end"), "").await;
    assert_eq!(end.header("location"), Some(format!("/sessions/{session}").as_str()), "ending shows the summary");
    let ended = app.page(&format!("/sessions/{session}")).await;
    assert!(ended.body.contains("<strong>afwezig</strong>"));
    assert!(ended.body.contains("<dd>sim-0001, sim-0002, sim-0003, sim-0004</dd>"), "no questions: nobody answered");

    let set = app.post_form(&format!("/sessions/{session}/attendance"), "student=sim-0004&mark=excused").await;
    assert_eq!(set.status, 303);
    let bad = app.post_form(&format!("/sessions/{session}/attendance"), "student=sim-0004&mark=gone").await;
    assert_eq!(bad.status, 400);
    let after = app.page(&format!("/sessions/{session}")).await;
    assert!(after.body.contains("<strong>geoorloofd afwezig</strong>"));
    assert!(after.body.contains("gewijzigd door test-admin"), "the override keeps who made it");

    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap()).date();
    let csv = app.page(&format!("/attendance.csv?class={class_name}&from={today}&to={today}")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "date,session,class,room,student,attendance,first_seen,changed_by,changed_at");
    assert_eq!(lines.len(), 5, "{}", csv.body);
    for (line, student, mark) in [(1, "sim-0001", "present"), (4, "sim-0004", "excused")] {
        let f: Vec<&str> = lines[line].split(',').collect();
        assert_eq!(
            (f[0], f[1], f[2], f[3], f[4], f[5]),
            (
                today.to_string().as_str(),
                session.to_string().as_str(),
                class_name.as_str(),
                room.as_str(),
                student,
                mark
            )
        );
    }
    assert!(lines[4].contains(",test-admin,"), "{}", lines[4]);
    let other = app.page(&format!("/attendance.csv?class=4B&from={today}&to={today}")).await;
    assert_eq!(other.body.lines().count(), 1, "another class: the header alone");
    assert_eq!(app.page("/attendance.csv?class=3A&from=yesterday&to=today").await.status, 400);

    // The student's history, reached from the list without their name in the URL.
    let href = after.body.split("href=\"/attendance/student?k=").nth(4).and_then(|s| s.split('"').next()).unwrap();
    let history = app.page(&format!("/attendance/student?k={href}")).await;
    assert_eq!(history.status, 200);
    assert!(history.body.contains("sim-0004") && history.body.contains("geoorloofd afwezig *"));
    assert_eq!(app.page("/attendance/student?k=0000000000000000").await.status, 404);
    app.stop().await;
}
